"""Core: the functional core: pure functions over frozen values. No I/O, no clock, no logging."""
