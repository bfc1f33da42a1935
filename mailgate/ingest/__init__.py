"""Shell, first stage: mail in by SMTP, IMAP and the MTA pipe, stored durably before it is acknowledged."""
