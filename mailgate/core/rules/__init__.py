"""Core: the rule engine: a mail's facts, compiled conditions, explained evaluation, the routing decision."""
