"""Shell: the exit statuses of `mailgate` (sysexits.h), one definition for the command line and the daemon."""

EX_DATAERR = 65  # the input is bad (the MTA bounces it)
EX_TEMPFAIL = 75  # try again later (the MTA keeps the mail queued)
EX_CONFIG = 78  # configuration error
