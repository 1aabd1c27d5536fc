"""The built-in web chat: the embedded default channel."""
