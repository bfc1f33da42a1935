"""Shell, configuration: `sections` (each TOML table, validated) and `settings` (the whole file, loaded)."""
