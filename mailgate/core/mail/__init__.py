"""Core: one mail read: bytes to values, sender, what it answers, its kind, the person's own text; ours composed."""
