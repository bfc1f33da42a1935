"""Core: the ticket process: transition table, commands, keywords, who may act, and the mails each step sends."""
