"""Shell: the `mailgate` command line: `main` (the root command) and one module per command group."""
