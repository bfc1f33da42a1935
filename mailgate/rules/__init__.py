"""Shell: the rules folder: YAML schema, compilation with file:line errors, whole-or-nothing load, hot reload."""
