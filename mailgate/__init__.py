"""mailgate: an email-first helpdesk gateway daemon."""

__version__ = "0.1.0"
