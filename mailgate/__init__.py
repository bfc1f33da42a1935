"""Mailgate: an email-first helpdesk gateway daemon (the layers: `core` pure, the shell around it)."""

__version__ = "0.1.0"
