"""Telegram: webhook updates in, sendMessage out."""
