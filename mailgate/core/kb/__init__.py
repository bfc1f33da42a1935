"""Core: the knowledge base (docs/kb.md): its words, what a search found, and what the flow does with it."""
