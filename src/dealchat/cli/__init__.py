"""The `dealchat` command line."""
