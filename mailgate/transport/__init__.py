"""Shell: the network edges: SMTP in, SMTP out."""
