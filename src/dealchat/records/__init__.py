"""Records: the append-only, tamper-evident audit log of every request and action."""
