"""Shell, web: what mailgate serves over HTTP (the Prometheus /metrics endpoint)."""
