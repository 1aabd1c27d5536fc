"""Channels: the IM platforms. The core imports `channels.interfaces` only."""
