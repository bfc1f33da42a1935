"""Store: the tables (SQLAlchemy Core). db/versions/ must create exactly this; a test compares them."""

from __future__ import annotations

import sqlalchemy as sa

from mailgate.store.columns import JSON, String, Text, UTCDateTime
from mailgate.store.metadata import metadata

# Raw mail as received, before anything else happens to it.
inbound_mail = sa.Table(
    "inbound_mail", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", String(16), nullable=False),  # smtp | pipe | imap
    sa.Column("source_ref", String(500), nullable=False),  # peer address, mailbox/uid...
    sa.Column("envelope_from", String(500)),  # None when unknown (pipe without --sender)
    sa.Column("envelope_to", JSON, nullable=False),
    sa.Column("message_id", String(998)),
    sa.Column("dedupe_key", String(64), nullable=False, unique=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("status", String(16), nullable=False),  # received | processed | ignored | quarantined | shunted
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("processed_at", UTCDateTime),
    sa.Column("ticket_id", sa.Integer),
    sa.Column("error", Text),
    sa.Index("ix_inbound_mail_status_id", "status", "id"),
    # /metrics' processing latency histogram reads these three columns alone (store/scrape.py)
    sa.Index("ix_inbound_mail_status_processed_at_received_at", "status", "processed_at", "received_at"),
    # a worker's claim (issue 11): taken until lease_until, then anyone may take it again
    sa.Column("claimed_by", String(64)),
    sa.Column("lease_until", UTCDateTime),
    sqlite_autoincrement=True,
)

# Its bytes, apart (0012): an UPDATE of a row rewrites the whole row on SQLite, so a claim and a mail's end
# each rewrote a 34 MB mail (68 MB at the peak, and its pages again in the WAL).
inbound_raw = sa.Table(
    "inbound_raw", metadata,
    sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_mail.id"), primary_key=True, autoincrement=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
)

ticket = sa.Table(
    "ticket", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the #N: never reused
    sa.Column("status", String(32), nullable=False),
    sa.Column("type", String(16), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("priority", String(16), nullable=False),
    sa.Column("title", String(300), nullable=False),
    sa.Column("requester", String(320), nullable=False),
    sa.Column("requester_name", String(300), nullable=False, server_default=""),
    sa.Column("assignee", String(320)),
    sa.Column("locale", String(8), nullable=False),
    sa.Column("merged_into", sa.Integer, sa.ForeignKey("ticket.id")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # workflow (issue 4): see docs/workflow.md
    sa.Column("customer", String(200)),  # the [[customers]] name, from the requester's domain
    sa.Column("status_changed_at", UTCDateTime),  # auto-close counts from here
    sa.Column("resume_status", String(32)),  # a waiting ticket goes back to this status
    sa.Column("waiting_on", String(16)),  # customer | vendor
    sa.Column("awaiting_mid", String(998)),  # our mail whose keyword answer is awaited
    sa.Column("awaiting_kind", String(32)),  # estimate_request | resolution
    sa.Column("root_mid", String(998)),  # the customer's first mail
    sa.Column("last_customer_mid", String(998)),  # the customer's latest mail
    sa.Index("ix_ticket_status_status_changed_at", "status", "status_changed_at"),
    # rules and service targets (issue 5): see docs/rules.md
    sa.Column("queue", String(100)),
    sa.Column("tags", JSON),
    sa.Column("dedupe_key", String(300)),  # alerts with this key append here while it is open
    sa.Column("alert_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("response_due", UTCDateTime),
    sa.Column("resolution_due", UTCDateTime),
    sa.Column("first_response_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("response_breached_at", UTCDateTime),  # the supervisors were told
    sa.Column("resolution_breached_at", UTCDateTime),
    sa.Index("ix_ticket_dedupe_key", "dedupe_key"),
    sqlite_autoincrement=True,
)

# Imputation: one task per ticket and month, titled "#88 - <title> - Janvier 2022".
task = sa.Table(
    "task", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("title", String(400), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("ticket_id", "year", "month"),
)

time_entry = sa.Table(
    "time_entry", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("task.id"), nullable=False),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
    sa.Column("agent", String(320), nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("comment", Text, nullable=False, server_default=""),
    sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_mail.id")),
    sa.Index("ix_time_entry_ticket_id", "ticket_id"),
)

# Estimates (chiffrage) of évolution tickets; the customer approves or refuses by reply.
estimate = sa.Table(
    "estimate", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
    sa.Column("amount_cents", sa.BigInteger),  # exact money: cents
    sa.Column("days", String(16)),  # decimal text, e.g. "2.5"
    sa.Column("state", String(16), nullable=False),  # proposed | approved | refused | superseded
    sa.Column("proposed_by", String(320), nullable=False),
    sa.Column("proposed_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", String(320)),
    sa.Column("decided_at", UTCDateTime),
    sa.Index("ix_estimate_ticket_id", "ticket_id"),
)

participant = sa.Table(
    "participant", metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), primary_key=True),
    sa.Column("email", String(320), primary_key=True),
    sa.Column("name", String(300), nullable=False, server_default=""),
    sa.Column("role", String(16), nullable=False),  # requester | cc
)

message = sa.Table(
    "message", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
    sa.Column("direction", String(3), nullable=False),  # in | out
    sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_mail.id")),
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id")),
    sa.Column("from_addr", String(320), nullable=False),
    sa.Column("to_addrs", JSON, nullable=False),
    sa.Column("cc_addrs", JSON, nullable=False),
    sa.Column("subject", Text, nullable=False),
    sa.Column("message_id", String(998)),
    sa.Column("body", Text, nullable=False),  # the full text as received
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("text", Text),  # what the person wrote: quoted history removed (issue 6)
    sa.Index("ix_message_ticket_id", "ticket_id"),
    sa.Index("ix_message_message_id", "message_id"),
)

BREACHED = sa.text("kind = 'sla_breached'")  # a literal, not a parameter: what lets a query use the index below
event = sa.Table(
    "event", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", String(64), nullable=False),
    sa.Column("data", JSON, nullable=False),
    sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_mail.id")),
    sa.Index("ix_event_ticket_id", "ticket_id"),
    # /metrics counts the breaches told (store/scrape.py): an entry for those events only
    sa.Index("ix_event_sla_breached", "at", sqlite_where=BREACHED, postgresql_where=BREACHED),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id")),
    sa.Column("kind", String(32), nullable=False),
    sa.Column("message_id", String(998), nullable=False, unique=True),
    sa.Column("envelope_from", String(320), nullable=False),
    sa.Column("envelope_to", JSON, nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("status", String(16), nullable=False),  # queued | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("deadline", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_error", Text),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Column("automatic", sa.Boolean, nullable=False, server_default=sa.false()),  # Auto-Submitted mail
    sa.Column("recipient", String(320)),  # the To address: rate limits count per recipient
    sa.Index("ix_outbox_recipient_created_at", "recipient", "created_at"),
    sa.Index("ix_outbox_ticket_id_created_at", "ticket_id", "created_at"),
    sa.Column("leased_by", String(64)),  # the sender holding it until next_attempt_at (issue 11)
)

# Addresses that bounced permanently: no automatic mail to them until `until` (issue 6).
address_flag = sa.Table(
    "address_flag", metadata,
    sa.Column("email", String(320), primary_key=True),
    sa.Column("reason", Text, nullable=False),
    sa.Column("flagged_at", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
)

attachment = sa.Table(
    "attachment", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
    sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_mail.id")),
    sa.Column("filename", String(300), nullable=False),  # sanitised: never a path
    sa.Column("original_name", Text, nullable=False),
    sa.Column("content_type", String(200), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", String(64), nullable=False),
    sa.Column("inline", sa.Boolean, nullable=False),
    sa.Column("content_id", String(998)),
    sa.Column("content", sa.LargeBinary),  # storage = "database"
    sa.Column("path", String(200)),  # storage = "folder": <sha256[:2]>/<sha256> under the folder
    sa.Index("ix_attachment_ticket_id", "ticket_id"),
)

# Per IMAP mailbox: where the poller stands, for restarts and for `mailgate status`.
imap_state = sa.Table(
    "imap_state", metadata,
    sa.Column("mailbox", String(500), primary_key=True),  # the [[imap]] entry's name
    sa.Column("uidvalidity", sa.BigInteger),
    sa.Column("last_uid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("connected", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_poll_at", UTCDateTime),
    sa.Column("last_error", Text),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("errors", sa.Integer, nullable=False, server_default="0"),  # failures since the last success
    sa.Column("stored", sa.BigInteger, nullable=False, server_default="0"),  # mails stored, all time
)
# Per daemon (host and config file): the rules its worker runs and how its reloads went, for /metrics.
rules_state = sa.Table(
    "rules_state", metadata,
    sa.Column("daemon", String(300), primary_key=True),
    sa.Column("rules", sa.Integer, nullable=False),  # in use
    sa.Column("loaded_at", UTCDateTime, nullable=False),  # when the rules in use were loaded
    sa.Column("reloads", sa.BigInteger, nullable=False, server_default="0"),  # reloads that took, all time
    sa.Column("refused", sa.BigInteger, nullable=False, server_default="0"),  # reloads refused, all time
    sa.Column("errors", sa.Integer, nullable=False, server_default="0"),  # problems of the last try (0: it took)
    sa.Column("last_error", Text),
    sa.Column("tried_at", UTCDateTime, nullable=False),  # the last load or reload
)
digest_sent = sa.Table("digest_sent", metadata,  # the digests queued (mailgate/digest.py): each period's goes once
    sa.Column("period", String(40), primary_key=True), sa.Column("queued_at", UTCDateTime, nullable=False))
# The supervisors' sign-in links (web/desk_auth.py): each opens one session, once, before it expires.
desk_login = sa.Table(
    "desk_login", metadata,
    sa.Column("nonce", String(64), primary_key=True),
    sa.Column("email", String(500), nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),  # set once, by the one opening that counts
    sa.Index("ix_desk_login_email_issued_at", "email", "issued_at"),  # the requests of the last hour
)
# The supervisors' sessions: a hash of the cookie's secret, never the secret itself.
desk_session = sa.Table(
    "desk_session", metadata,
    sa.Column("id_hash", String(64), primary_key=True),
    sa.Column("email", String(500), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# the knowledge base's tables (issue 14) join the same metadata wherever the tables are imported
from mailgate.store.kb_tables import kb_article, kb_article_version, kb_doc, kb_term  # noqa: E402, F401
