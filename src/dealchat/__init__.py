"""dealchat: compliant client order-taking over instant messaging."""

__version__ = "0.1.0"
