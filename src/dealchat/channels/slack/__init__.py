"""Slack: the Events API in, chat.postMessage out."""
