"""Core, under bounce: the words of a bounce (status codes, wording, failed addresses in free text).

Used by `bounce` for the delivery-status fields of RFC 3464 reports and, for the many bounces that
are not RFC 3464 (qmail, old Exim and Postfix, Exchange, Domino, GroupWise, webmail providers),
to find the failed addresses in the human-readable notice. Pure functions over text.
"""

from __future__ import annotations

import re

from mailgate.core.mail.caseless import Caseless

# An enhanced status code (RFC 3463), not part of an IP address or a version number.
_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A basic SMTP reply code at a line start, after "said:"/"smtp;" or before an enhanced code. Written with
# lookbehinds, so that a long run of blanks is not rescanned from each of its characters.
_SMTP = re.compile(r"(?:^|(?<=said:)|(?<=smtp;)|(?<=\s))([45][0-7]\d)(?=[ \-]|$)", re.I | re.M)
# An address starts where its run of local-part characters starts (the lookbehind), so that a long run
# without "@" is scanned once, not once from each of its characters.
_LOCAL = r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@"
ADDRESS = re.compile(rf"{_LOCAL}(?:[A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]*|{_LOCAL}\[\d{{1,3}}(?:\.\d{{1,3}}){{3}}\]")

# Words of a message that was only delayed (the sender's MTA keeps trying).
_TEMPORARY = re.compile(
    r"\b(?:delayed|deferred|will (?:continue to |keep )?(?:retry|try|be retried|trying)|still (?:being )?"
    r"(?:retried|retrying|trying)|(?:has|have) not yet been delivered|not yet been delivered|hasn't been delivered yet|"
    r"(?:delivery )?attempts will continue|will continue to be attempted|warning only|temporar(?:y|ily) "
    r"(?:failure|error|problem|unavailable|deferred|rejected)|do not need to resend|no action is required|"
    r"retry (?:timeout|time) not reached|will be retried|tried to deliver|could not be delivered for [\d.]+ hours|"
    r"zustellung verz[öo]gert|verz[öo]gerung|remise diff[ée]r[ée]e|toujours en cours|retard[ée]?e? de remise)\b",
    re.I,
)
# A delay warning: the sending MTA says it keeps the mail and tries again. Never a permanent failure, whatever
# codes the last attempt got ("Warning: message still undelivered after 4 hours", "Delivery Status Notification
# (Delay)", Gmail's "Delivery incomplete ... will retry for 46 more hours").
_DELAY_SUBJECT = re.compile(
    r"\bdelay(?:ed)?\b|delivery incomplete|still (?:being )?(?:retried|trying)|will retry|still undelivered|"
    r"could not send message for past|not yet (?:been )?delivered|warning: message|zustellung verz[öo]gert|"
    r"remise diff[ée]r[ée]e|retard", re.I)
_DELAY_BODY = re.compile(
    r"\b(?:warning (?:message )?only|(?:you )?do not need to resend|(?:has|have) not yet been delivered|"
    r"hasn't been delivered yet|(?:message )?still undelivered|will (?:continue to |keep )?(?:retry|try|be retried|"
    r"trying)\b|still (?:being )?(?:retried|retrying|trying)|(?:delivery )?attempts will continue|will continue to "
    r"be attempted|(?:delivery|message|mail)(?: to [^\n]{0,80}?)? (?:is |has been |was )?delayed|temporary problem "
    r"delivering|"
    r"retry (?:timeout|time) not reached|could not be delivered for (?:more than )?[\d.]+ hours?(?:\(s\))?)", re.I)
# Words of a notice that gave up for good: they outweigh the delay words it quotes from earlier warnings.
_GAVE_UP = re.compile(r"\b(?:giving up|gave up|given up|permanent(?:ly)? (?:fatal )?(?:error|failure)s?\b|"
                      r"failed permanently|will not (?:be )?retr|won't (?:be )?retr|retry timeout exceeded|"
                      r"not going to try again|no further (?:delivery )?attempts)", re.I)
# A subject that says the mail failed: its delay words are the returned mail's own subject ("Undeliverable: delay").
_FAILED_SUBJECT = re.compile(r"undeliver|failure|failed|returned|rejected|non[- ]?deliver|unzustellbar|non remis|"
                             r"[ée]chec", re.I)
# A failure code of a remote server in a text notice: an enhanced 5.x.x code, or a 5xx reply where replies stand.
_FIVE = re.compile(r"(?<![\w.])5\.\d{1,3}\.\d{1,3}(?!\.?\d)|(?:^[ \t>]*+|said:[ \t]*+|smtp;[ \t]*+|"
                   r"reply:[ \t]*+|error:[ \t]*+|\()5[0-5]\d(?=[ \-])", re.I | re.M)
_PERMANENT_WORDS = re.compile(
    r"\b(?:permanent(?:ly)?|fatal|giving up|given up|user unknown|unknown user|no such (?:user|mailbox|address|"
    r"recipient|domain)|does not exist|doesn'?t exist|not exist|invalid (?:recipient|address|mailbox)|"
    r"address rejected|mailbox unavailable|recipient rejected|rejected|not found|unrouteable|host unknown|"
    r"undeliverable|could not be delivered|was not delivered|not be delivered|failed|disabled|inactive)\b",
    re.I,
)

# How a bounce looks: its sender's name, its subject, its wording, and who wrote it.
DAEMON_NAME = Caseless(r"mail ?delivery|mailer[- _]?daemon|postmaster|mail administrator|"
                       r"mail system|delivery (?:status|subsystem|system|service)|post ?office|"
                       r"mail ?router|smtp gateway|mailsweeper|message delivery|system administrator|"
                       r"anti-?virus|mail ?service")
# Local parts of gateways and scanners that send bounces under their own name.
MACHINE_LOCAL = re.compile(r"(?:^|[._-])(?:ndr|imss|smtp|anti-?virus|inetgw\d*|mailgw|mail-?gateway|gateway|"
                           r"mailer|daemon|mail-?service|interscan|scanmail|mailsweeper|mailscanner|mta)(?:$|[._\d-])|"
                           r"^microsoftexchange[0-9a-f]{0,40}$", re.I)
SUBJECT = Caseless(  # searched in every subject
    r"undeliver|undelivered|returned mail|return(?:ed)? to sender|delivery (?:status|failure|failed|problem|"
    r"notification|report|has failed)|failure (?:notice|delivery)|delivery[_ ]failure|mail delivery|"
    r"non[- ]?deliver|could not be delivered|not (?:be )?delivered|delivery delayed|delayed mail|"
    r"message delayed|warning: (?:could not send|message)|mail (?:could not|failed|system error)|"
    r"nicht zustellbar|unzustellbar|non remis|non distribu|non d[ée]livr|[ée]chec de (?:la )?(?:remise|distribution)|"
    r"impossible de remettre|no entregado|no se pudo entregar|onbestelbaar|niet bezorgd|non recapit|"
    r"mancato recapito|user unknown|nameserver error|delivery notification|failed mail|mail failed")
BODY = re.compile(
    r"qmail-send program|this is the (?:postfix program|mail system at host|mail delivery agent)|"
    r"created automatically by mail delivery software|could not be delivered|was not delivered|"
    r"(?:could not|can ?not|unable to|failed to) deliver|not (?:be )?delivered to|delivery (?:to the following|"
    r"has failed|failed|status notification|failure)|did not reach (?:the following|some or all)|"
    r"(?:permanent|transient)(?: non-fatal)? (?:fatal )?errors?|undeliverable|returned mail|"
    r"(?:user|mailbox|recipient|address)(?: name)? (?:unknown|not (?:found|recognized|recognised)|unavailable|"
    r"does not exist|is not valid|disabled|inactive|full)|unknown (?:user|recipient|address)|"
    r"not a valid (?:user|recipient|address|mailbox)|"
    r"no such (?:user|mailbox|address|recipient|domain)|over quota|quota exceeded|message (?:was|has been) "
    r"(?:rejected|returned|delayed)|(?:has|have) not yet been delivered|delivery (?:has been |is )?delayed|"
    r"will (?:continue to )?retry|will be retried|(?:recipient|address|mail|message) (?:was |has been )?rejected|"
    r"host unknown|unrouteable|konnte nicht zugestellt|nicht zugestellt|n'a pas pu (?:être|etre) "
    r"(?:remis|distribu)|impossible de (?:remettre|distribuer)|non recapitabile|no (?:pudo|se pudo) (?:ser )?entregar",
    re.I)
KINDS = (  # notice signatures -> the MTA or provider that wrote it
    ("qmail", re.compile(r"qmail-send|qmail", re.I)),
    ("exim", re.compile(r"created automatically by mail delivery software|\bexim\b", re.I)),
    ("postfix", re.compile(r"this is the postfix program|\bpostfix\b|this is the mail system at host", re.I)),
    ("gmail", re.compile(r"google\.com|gmail|googlemail", re.I)),
    ("exchange", re.compile(r"microsoft|exchange|did not reach (?:the following|some or all)|"
                            r"delivery has failed to these recipients|MSEXCH|outlook", re.I)),
    ("sendmail", re.compile(r"transcript of session|permanent fatal errors|sendmail", re.I)),
    ("domino", re.compile(r"lotus|domino", re.I)),
    ("groupwise", re.compile(r"groupwise|novell", re.I)),
    ("yahoo", re.compile(r"yahoo", re.I)),
    ("aol", re.compile(r"\baol\b", re.I)),
)
# Lines whose address is not a failed recipient: the summary of the original mail, contact lines.
_HEADER_LINE = re.compile(
    r"^\s*+>?\s*+(?:to|from|cc|bcc|sender|reply-to|return-path|envelope-from|x-[\w-]+|subject|date|sent|"
    r"message-id|in-reply-to|references|received|de|von|an|envoy[ée]|gesendet|para|da|aan|van)\s*:", re.I)
_CONTACT = re.compile(r"\b(?:contact|send (?:e-?)?mail to|write to|please (?:e-?mail|mail)|questions?|help desk|"
                      r"helpdesk|assistance)\b", re.I)
# Text just before an address that says it is not a failed recipient.
_NOT_RECIPIENT = re.compile(r"(?:message-?id|queue[- ]id|mts-id|sent by|(?<!generated )from|sender)\W{0,3}$", re.I)
# An alias expansion: "x@y (generated from a@b)": a@b is the address the mail was sent to.
_GENERATED = re.compile(r"generated from\W{0,3}$", re.I)
# A line that ends by introducing the sender of the bounced mail (the address follows on the next line).
_SENDER_INTRO = re.compile(r"(?:sent by|from|sender|envoy[ée] par|gesendet von)\s*+:?\s*+$", re.I)
# X.400 and DSN type prefixes glued to an address: "SMTP=user@host", "rfc822;user@host".
_PREFIX = re.compile(r"^(?:dda:)?(?:smtp|rfc822|x400)[=;:]", re.I)
# Local parts of mail-system addresses that never are the failed recipient.
DAEMON_LOCAL = re.compile(
    r"^(?:mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|maildaemon|postmaster|hostmaster|abuse|"
    r"mail-?delivery(?:-system)?|mdaemon|root|no-?reply|do-?not-?reply|bounces?)$", re.I)

# Where the returned original starts in a text bounce (everything after is the sender's mail).
_ORIGINAL_MARK = re.compile(
    r"^[ \t]*+(?:[-=_*#>]{2,80}[ \t]*+)?(?:"
    r"(?:below this line is a copy of the message|this is a copy of the message|original message follows|"
    r"(?:the )?original message (?:headers|header|follows|is attached)|"
    r"(?:a )?copy of the original message|unsent message (?:below|follows)|"
    r"(?:the )?(?:original|returned|undelivered|unsent) message(?: header[s]?)?:?[ \t]*+(?:[-=_*#>]{2,80}[ \t]*+)?$|"
    r"(?:the )?text of (?:the|your) (?:original )?message|message header(?:s)? follow|"
    r"(?:your )?original message headers?|start of returned message|returned message follows|"
    r"headers of the original message|rfc822 headers|"
    r"-{1,80} ?(?:original|forwarded) message ?-))", re.I | re.M)

# Sentences that introduce the failed addresses in the notices of many MTAs.
_INTRO = re.compile(
    r"(?:following (?:recipients?|address(?:es)?|users?|destinations?)(?:\(e?s\))?|"
    r"recipients?(?:\(s\))?|address(?:es)?(?:\(es\))?|users?)\b[^\n]{0,60}?"
    r"(?:failed|could not|cannot|can ?not|were not|was not|did not|had permanent|had transient|unknown|"
    r"rejected|invalid|not reached|undeliverable|delayed)|did not reach the following|"
    r"(?:could not|cannot|unable to|was not|not) (?:be )?deliver(?:ed)?(?: your message)? to|"
    r"delivery to the following|delivery has failed to|(?:unknown|invalid) (?:user|recipient|address|mailbox)s?:|"
    r"no such (?:user|mailbox|address|recipient)|user unknown|mailbox (?:unavailable|full|not found)|"
    r"failed (?:recipient|address)|recipient address|original recipient|final recipient|"
    r"not (?:listed|found) in|over quota|quota exceeded|zustellung an|konnte nicht zugestellt|"
    r"n'a pas pu (?:être|etre) (?:remis|distribu)|impossible de (?:remettre|distribuer)", re.I)


def status_code(text: str | None) -> str | None:
    """The first failure status code (4.x.x/5.x.x) in a text, else one made from a basic SMTP code."""
    if not text:
        return None
    found = next((m for m in _STATUS.finditer(text) if m.group(1) != "2"), None)
    if found:
        return f"{found.group(1)}.{int(found.group(2))}.{int(found.group(3))}"
    smtp = _SMTP.search(text)
    if smtp:
        return f"{smtp.group(1)[0]}.0.0"
    return None


def clean_status(value: str | None) -> str | None:
    """A DSN Status field without comments ("5.1.1 (bad mailbox)" -> "5.1.1"); None if not a code."""
    if not value:
        return None
    found = _STATUS.search(value)
    if found:
        return f"{found.group(1)}.{int(found.group(2))}.{int(found.group(3))}"
    digits = re.match(r"\s*([245])(\d)(\d)\b", value)  # "550" written where a status belongs
    if digits:
        return f"{digits.group(1)}.0.0"
    return None


def permanence(status: str | None, action: str | None, diagnostic: str, context: str = "") -> bool | None:
    """True for a permanent failure, False for a temporary one or a delay, None when nothing tells.

    The status code decides, then the Action, then the words of the diagnostic, then of the notice."""
    if action and action.strip().lower().startswith("delayed"):
        return False
    if status and status[0] in "45":
        return status[0] == "5"
    if action and action.strip().lower().startswith("failed"):
        return True
    for text in (diagnostic, context):
        if _TEMPORARY.search(text):
            return False
        if _PERMANENT_WORDS.search(text):
            return True
    return None


def looks_temporary(text: str) -> bool:
    return _TEMPORARY.search(text) is not None


def delay_warning(subject: str, notice: str) -> bool:
    """A text notice that only warns of a delay: its subject or its words say the MTA keeps trying, and it
    does not say it gave up (the phrases of a final failure that quotes its earlier warnings)."""
    by_subject = _DELAY_SUBJECT.search(subject) is not None and _FAILED_SUBJECT.search(subject) is None
    if not by_subject and _DELAY_BODY.search(notice) is None:
        return False
    return _GAVE_UP.search(subject) is None and _GAVE_UP.search(notice) is None


def failure_code(notice: str) -> bool:
    """A remote server's permanent failure code (5.x.x, or a 5xx reply) in a notice's own text."""
    return _FIVE.search(notice) is not None


def notice_part(text: str) -> str:
    """The bounce's own notice: the text before the copy of the returned original, if marked."""
    mark = _ORIGINAL_MARK.search(text)
    if mark is not None and mark.start() > 0:
        return text[: mark.start()]
    return text


def failed_addresses(notice: str, exclude: frozenset[str]) -> list[tuple[str, str]]:
    """(address, its diagnostic text) for the failed recipients named in a bounce notice.

    Addresses introduced by the usual sentences ("could not be delivered to", "<addr>:" lines,
    "addr... User unknown") come first; when none is, every address of the notice that is not
    excluded (the sender, the mail system's own addresses, contact lines, the original's summary).
    """
    lines = notice.splitlines()
    strong: dict[str, str] = {}
    weak: dict[str, str] = {}
    window = 0
    previous = ""
    last: tuple[str, int] | None = None  # the latest strong address and its line
    for index, line in enumerate(lines):
        if _INTRO.search(line):
            window = 8
        elif window:
            window -= 1
        skip = _HEADER_LINE.match(line) or _CONTACT.search(line) or _SENDER_INTRO.search(previous)
        if line.strip():
            previous = line
        if skip:
            continue
        for found in ADDRESS.finditer(line):
            addr = _PREFIX.sub("", found.group(0).strip(".-'")).lower()
            before = line[max(0, found.start() - 80): found.start()]  # the words just before it: linear
            if DAEMON_LOCAL.match(addr.split("@", 1)[0]) or _NOT_RECIPIENT.search(before):
                continue
            positional = _positional(line, found.start(), found.end())
            if addr in exclude and not positional:
                continue
            diagnostic = _diagnostic(lines, index)
            if _GENERATED.search(before):
                if last is not None and index - last[1] <= 2:
                    strong.pop(last[0], None)
                strong[addr] = diagnostic
                continue
            if window or positional:
                last = (addr, index)
                strong.setdefault(addr, diagnostic)
            else:
                weak.setdefault(addr, diagnostic)
    chosen = strong or weak
    return list(chosen.items())


def _positional(line: str, start: int, end: int) -> bool:
    """An address written the way MTAs list failed recipients: "<a@b>:", "a@b...", "a@b: reason"."""
    before = line[:start].strip(" \t<\"'")
    after = line[end:].lstrip(">\"'")
    return (not before and (after.startswith((":", "...", " ...")) or not after.strip())) or \
        after.startswith("...")


def _diagnostic(lines: list[str], index: int) -> str:
    """The line of an address and the indented or following lines that explain it (at most 4)."""
    picked = [lines[index].strip()]
    for line in lines[index + 1: index + 5]:
        if not line.strip() or ADDRESS.search(line) and not line.startswith((" ", "\t")):
            break
        picked.append(line.strip())
    return " ".join(" ".join(picked).split())[:400]
