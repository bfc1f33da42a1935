"""Core, after parse and before threading: is this mail a person's, or machine mail (auto-reply, list,
bounce, challenge) or our own mail come back? Machine mail never changes a ticket or gets an answer.

Order and rules (first match wins):

1. own: our loop header with our token, our own Message-ID shape (``mg.…@<message_id_domain>``) as
   the mail's own Message-ID, or one of our addresses as sender.
2. machine notices (`notices`): a provider's JSON notification that is no bounce (delivered, complaint,
   opened: auto_reply; its bounces and delays are bounces, step 4), an abuse feedback report (ARF: auto_reply),
   a mailing list's moderation or bounce-processing notice (list).
3. challenge: challenge-response systems (TMDA, Boxbe, Bluebottle, Spam Arrest, ChoiceMail,
   Mailblocks, "please confirm you are human"): a challenge header, or the wording together with
   a sign of machine mail. Checked before bounces: some send them as delivery reports.
4. bounce: see `bounce.parse_bounce` (RFC 3464 reports and the common non-standard notices); a report of
   success (delivered, relayed, expanded; or its words from a mail system) is an auto_reply.
5. auto_reply: RFC 3834 Auto-Submitted other than "no"; Precedence bulk/junk/auto_reply without
   list headers; X-Autoreply, X-Autorespond and kin; an out-of-office subject (en, fr, de, es, it,
   nl, pt, pl, sv, da, no, fi); Exchange's rule-made replies (X-Auto-Response-Suppress: All together
   with X-MS-Exchange-Inbox-Rules-Loop); read receipts and other machine reports; a mail-system
   sender or an empty envelope sender.
6. list: List-Id, Precedence: list, or List-Unsubscribe with Precedence: bulk — unless the list is
   one of our own addresses (support@ run through a Google Group or a distribution list adds these
   headers to every customer mail).
7. human.

X-Auto-Response-Suppress alone does not make a mail machine mail: Outlook and Exchange put it on
ordinary mail (mail through distribution lists, meeting mail), and GLPI, osTicket and Redmine all
had to stop treating it so. A human mail that carries it with All or AutoReply is classified human
with `suppress_auto_reply` set, so the shell can honour the sender's wish and skip the automatic
acknowledgement while the mail itself is handled normally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from mailgate.core.mail import notices
from mailgate.core.mail.bounce import Bounce, daemon_sender, parse_bounce
from mailgate.core.mail.caseless import Caseless
from mailgate.core.mail.payload import message_of
from mailgate.core.mail.signing import LOOP_HEADER, shaped_domain
from mailgate.core.model import ParsedMail

HUMAN, AUTO_REPLY, LIST, BOUNCE, CHALLENGE, OWN = "human", "auto_reply", "list", "bounce", "challenge", "own"
_LOOP = LOOP_HEADER.lower()  # ParsedMail.headers names are lower-cased


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str  # human | auto_reply | list | bounce | challenge | own
    reason: str  # why, in words, for the ticket's event log
    bounce: Bounce | None = None  # set when kind == "bounce"
    suppress_auto_reply: bool = False  # the sender asked for no automatic answer (X-Auto-Response-Suppress)

    @property
    def machine(self) -> bool:
        """Machine mail (or our own): it never changes a ticket's state nor gets an automatic mail."""
        return self.kind != HUMAN


_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-reply", "x-autoreply-from", "x-mail-autoreply",
                 "x-autoresponder", "x-autoresponse", "x-vacation", "x-is-autoreply")
_CHALLENGE_HEADERS = re.compile(r"^x-(?:[\w-]*challenge[\w-]*|bluebottle-request|boxbe-[\w-]+|tmda-[\w-]+|"
                                r"spamarrest[\w-]*|spam-arrest[\w-]*|choicemail[\w-]*|mailblocks[\w-]*)$")
_CHALLENGE_WORDS = re.compile(
    r"sender verification|verify (?:that )?you(?:'re| are)? (?:a )?(?:human|real|person)|"
    r"(?:confirm|prove) (?:that )?you(?:'re| are)? (?:a )?(?:human|real person|person|not a (?:robot|spammer))|"
    r"add yourself to (?:my|the recipient'?s) [\w ]{0,20}list|added to the recipient'?s [\w ]{0,20}list|"
    r"not pre-?approved|challenge[- ]response|requires confirmation|please confirm (?:your|this|that) "
    r"(?:e-?mail|message|address)|to have your (?:e-?mail )?address (?:added|approved|verified)|"
    r"has not (?:yet )?been verified|to release your message|(?:is|was|has been) (?:being )?held (?:because|until)|"
    r"spam ?arrest|boxbe|bluebottle|mailblocks|choicemail|\btmda\b|spamblocker", re.I)
_CHALLENGE_SUBJECT = Caseless(  # searched in every subject
    r"please confirm your (?:e-?mail|message)|confirmation required|verification (?:request|required)|"
    r"sender verification|awaiting (?:your )?(?:verification|confirmation)|not pre-?approved|"
    r"(?:requires|request for) (?:your )?(?:verification|sender approval)")
# Out-of-office subject labels. Phrases that only auto-replies use may be followed by a dash; single
# everyday words ("Auto", "Absent", "Away") count only as "Word:" or "[Word]" or alone.
_OOO_PHRASES = (
    r"out of (?:the )?office(?: auto ?reply)?|auto(?:matic|matische|matisch|matiska|matisk|"
    r"maattinen)?[- ]?(?:reply|response|answer|antwort|antwoord|svar|vastaus|respuesta|risposta|r[ée]ponse)|"
    r"autoreply|auto-?response|vacation reply|abwesenheitsnotiz|nicht im b[üu]ro|r[ée]ponse automatique|"
    r"message d'absence|absente? du bureau|absence du bureau|risposta automatica|fuori (?:sede|ufficio)|"
    r"respuesta autom[áa]tica|fuera de (?:la )?oficina|automatisch antwoord|autosvar|automatisk svar|"
    r"automatiskt svar|poza biurem|automatyczna odpowied[źz]|odpowied[źz] automatyczna|resposta autom[áa]tica|"
    r"fora do escrit[óo]rio|automaattinen vastaus"
)
_OOO_WORDS = (
    r"auto|absence|absente?|away|vacation|on vacation|on leave|abwesenheit|abwesend|en cong[ée]s?|"
    r"afwezig(?:heid)?|fr[åa]nvaro|frav[æa]r|ausente|poissa|lomalla|ferie|urlaub"
)
# A label at the subject's start (matched there), or a sentence anywhere (searched): as one search, the label's
# alternatives were tried at every position, 9.5 us a subject against 3.8 for the two
_OOO_LABEL = re.compile(
    rf"\s*+[\[(]?\s*+(?:(?:{_OOO_PHRASES})\s*+(?:[:\]\)\-–]|$)|(?:{_OOO_WORDS})\s*+(?:[:\]\)]|$))", re.I)
_OOO_SENTENCE = re.compile(
    r"\bis (?:currently )?(?:out of (?:the )?office|on (?:vacation|holiday|leave|annual leave)|away)\b|"
    r"\bi(?: am|'m) (?:currently )?out of (?:the )?office\b|\bist (?:nicht im b[üu]ro|abwesend)\b|"
    r"\best absente?\b", re.I)
_LIST_HEADERS = frozenset({"list-id", "list-post", "list-help", "list-subscribe", "list-unsubscribe", "list-archive",
                           "list-owner", "mailing-list", "x-mailing-list", "x-mailman-version", "x-beenthere",
                           "x-ml-name", "x-list", "x-google-group-id", "list-unsubscribe-post"})
# The envelope-ish sender of list software: owner-x@ (Majordomo, Listserv), x-owner@, x-request@, x-bounces@.
_LIST_SENDER = re.compile(r"(?:^|[\s<\"])owner-[^@\s]+@|[\w.-]-(?:owner|request|bounces|admin)@", re.I)
_DMARC_SUBJECT = re.compile(r"^\s*report domain:\s*\S+\s+submitter:", re.I)  # RFC 7489 §7.2.1.1
_DAEMON = re.compile(r"^(?:mailer-daemon|mailer_daemon|mail-daemon|maildaemon|postmaster)@", re.I)
_REPORT = re.compile(r"report-type\s*=\s*\"?(disposition-notification|feedback-report|delivery-status|"
                     r"[\w-]+)", re.I)


def classify(mail: ParsedMail, raw: bytes | Message | None, envelope_from: str | None, *, loop_token: str,
             own_addresses: frozenset[str], own_msgid_domain: str) -> Kind:
    """The kind of an inbound mail, with the reason. `raw` (bytes or the parsed tree) gives bounce parsing the
    MIME structure;
    without it only the headers and the text of `mail` are read. Never raises."""
    try:
        return _classify(mail, raw, envelope_from, loop_token, own_addresses, own_msgid_domain)
    except Exception as exc:  # pragma: no cover - the rules are total; this keeps the worker safe anyway
        return Kind(HUMAN, f"classification failed ({type(exc).__name__}); treated as a person's mail")


def own_kind(mail: ParsedMail, loop_token: str, own_addresses: frozenset[str], own_msgid_domain: str | None) -> \
        Kind | None:
    """Our own mail come back: loop header, our Message-ID, or our address as sender."""
    for name, value in mail.headers:
        if name == _LOOP and loop_token and value.strip().lower() == loop_token.strip().lower():
            return Kind(OWN, f"carries our {LOOP_HEADER} header")
    if own_msgid_domain and mail.message_id:
        if shaped_domain(mail.message_id) == own_msgid_domain.strip().lower():
            return Kind(OWN, f"its Message-ID is one of ours ({own_msgid_domain})")
    if mail.from_ is not None and mail.from_.email in own_addresses:
        return Kind(OWN, f"sent from our own address {mail.from_.email}")
    return None


def _classify(mail: ParsedMail, raw: bytes | Message | None, envelope_from: str | None, loop_token: str,
              own_addresses: frozenset[str], own_msgid_domain: str) -> Kind:
    own = own_kind(mail, loop_token, own_addresses, own_msgid_domain)
    if own is not None:
        return own
    suppress = _suppress(mail)
    hints = _machine_hints(mail, envelope_from)
    tree = message_of(raw) if isinstance(raw, bytes) else raw or _as_message(mail)
    notice = notices.machine_notice(mail, tree, bool(hints))
    if notice is not None:
        return Kind(notice[0], notice[1], suppress_auto_reply=True)
    challenge = _challenge(mail, hints)
    if challenge is not None:
        return Kind(CHALLENGE, challenge, suppress_auto_reply=True)
    # before bounces: an auto-reply may say it "will try" to answer
    if _OOO_LABEL.match(mail.subject) or _OOO_SENTENCE.search(mail.subject):
        return Kind(AUTO_REPLY, f"out-of-office subject {mail.subject[:60]!r}", suppress_auto_reply=True)
    found = parse_bounce(tree, envelope_from)
    if found is not None:
        how = "permanent" if found.permanent else "temporary" if found.permanent is False else "unknown"
        names = ", ".join(r.email for r in found.recipients[:5]) or "no address found"
        return Kind(BOUNCE, f"bounce ({found.kind}, {how}): {names}", bounce=found, suppress_auto_reply=True)
    if (hints or daemon_sender(tree, envelope_from)) and notices.success_notice(mail.subject, mail.text[:20_000]):
        return Kind(AUTO_REPLY, "a report of successful delivery", suppress_auto_reply=True)
    ours = _ours(mail, own_addresses)
    listed = None if ours else _list(mail)
    auto = _auto_reply(mail, hints, listed is not None or _list_headers(mail) and not ours, ours)
    if auto is not None:
        return Kind(AUTO_REPLY, auto, suppress_auto_reply=True)
    if listed is not None:
        return Kind(LIST, listed, suppress_auto_reply=True)
    return Kind(HUMAN, "no sign of machine mail", suppress_auto_reply=suppress)


def _suppress(mail: ParsedMail) -> bool:
    value = (mail.header("x-auto-response-suppress") or "").lower()
    return bool(re.search(r"\b(?:all|autoreply)\b", value))


def _machine_hints(mail: ParsedMail, envelope_from: str | None) -> list[str]:
    """Signs that a machine sent the mail, too weak alone but enough to back up wording."""
    hints = []
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        hints.append("empty envelope sender")
    if (mail.header("return-path") or "").strip() == "<>":
        hints.append("empty Return-Path")
    auto = (mail.header("auto-submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        hints.append(f"Auto-Submitted: {auto}")
    if mail.header("precedence"):
        hints.append(f"Precedence: {mail.header('precedence')}")
    if _REPORT.search(mail.header("content-type") or ""):
        hints.append("a machine report")
    if mail.from_ is not None and (_DAEMON.match(mail.from_.email) or
                                   re.match(r"^(?:no-?reply|do-?not-?reply)", mail.from_.email)):
        hints.append(f"sender {mail.from_.email}")
    return hints


def _challenge(mail: ParsedMail, hints: list[str]) -> str | None:
    """A challenge header; else the wording of a challenge backed by its subject or a machine sign."""
    for name, _value in mail.headers:
        if _CHALLENGE_HEADERS.match(name):
            return f"challenge-response: {name} header"
    subject = _CHALLENGE_SUBJECT.search(mail.subject)
    if subject is None and not hints:  # the wording alone never counts: spare its search (0.3 ms a mail)
        return None
    words = _CHALLENGE_WORDS.search(mail.text[:5000])
    if words is None:
        return None
    if subject is not None:
        return f"challenge-response: subject {mail.subject[:60]!r}"
    return f"challenge-response: {words.group(0)!r} with {hints[0]}"


def _auto_reply(mail: ParsedMail, hints: list[str], listed: bool, ours: bool) -> str | None:
    """`listed`: list headers explain a Precedence; `ours`: they come from our own support list."""
    auto = (mail.header("auto-submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = (mail.header("precedence") or mail.header("x-precedence") or "").strip().lower()
    if not listed and precedence in ("bulk", "junk", "list", "auto_reply", "auto-reply") and \
            not (ours and precedence == "list"):
        return f"Precedence: {precedence}"
    for name in _AUTO_HEADERS:
        value = mail.header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return f"{name} header"
    if (mail.header("x-fc-machinegenerated") or "").strip().lower() == "true":
        return "X-FC-MachineGenerated: true"
    if "autoreply" in (mail.header("x-post-messageclass") or "").lower():
        return "X-POST-MessageClass: autoreply"
    if mail.header("x-cron-env") is not None:
        return "a cron job's output"
    if mail.header("tls-report-domain") is not None or _DMARC_SUBJECT.match(mail.subject):
        return "a DMARC or TLS aggregate report"
    suppress = (mail.header("x-auto-response-suppress") or "").lower()
    if "all" in suppress and mail.header("x-ms-exchange-inbox-rules-loop") is not None:
        return "Exchange rule-made reply (X-Auto-Response-Suppress: All, X-MS-Exchange-Inbox-Rules-Loop)"
    report = _REPORT.search(mail.header("content-type") or "")
    if report and "multipart/report" in (mail.header("content-type") or "").lower():
        return f"a machine report ({report.group(1).lower()})"
    for hint in hints:
        if hint.startswith(("empty", "sender mailer", "sender mail-daemon", "sender maildaemon")):
            return hint
    return None


def _list(mail: ParsedMail) -> str | None:
    list_id = mail.header("list-id")
    if list_id:
        return f"List-Id: {list_id[:80]}"
    precedence = (mail.header("precedence") or "").strip().lower()
    if precedence in ("list", "bulk", "junk") and _list_headers(mail):
        return f"Precedence: {precedence} with mailing-list headers"
    if mail.header("mailing-list") is not None or mail.header("x-mailing-list") is not None:
        return "Mailing-List header"
    if mail.header("list-unsubscribe-post") is not None:
        return "one-click List-Unsubscribe-Post (RFC 8058): bulk mail"
    return None


def _list_headers(mail: ParsedMail) -> bool:
    """Headers only list managers write (RFC 2369/2919, Mailman, ezmlm, Sympa, Google Groups)."""
    for name, value in mail.headers:
        if name in _LIST_HEADERS:
            return True
        if name in ("sender", "errors-to") and _LIST_SENDER.search(value):
            return True
    return False


def _ours(mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
    return _our_list(mail.header("list-id"), mail.header("list-post") or "", own_addresses)


def _our_list(list_id: str | None, post: str, own_addresses: frozenset[str]) -> bool:
    """A list (Google Group, distribution list) that is one of our own support addresses."""
    if not own_addresses:
        return False
    for addr in re.findall(r"mailto:([^>?\s,]+)", post, re.I):
        if addr.lower() in own_addresses:
            return True
    found = re.search(r"<([^<>\s]+)>", list_id or "") or re.search(r"(\S+\.\S+)", list_id or "")
    if found is None:
        return False
    local, dot, domain = found.group(1).lower().partition(".")
    return bool(dot) and f"{local}@{domain}" in own_addresses


def _as_message(mail: ParsedMail) -> Message:
    """A stand-in MIME message from a ParsedMail, for bounce rules when the raw bytes are not at hand."""
    msg = Message()
    for name, value in mail.headers:
        if name not in ("content-type", "content-transfer-encoding", "mime-version"):
            msg[name] = value.replace("\r", " ").replace("\n", " ")
    msg.set_payload(mail.text)
    return msg
