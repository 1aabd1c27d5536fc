"""Compliance search: clear metadata narrows the conversations, sealed bodies are opened and
matched in the same process for a reader with the right, every search is audited."""
