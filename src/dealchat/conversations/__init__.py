"""Conversations: messages and threads; desk.py is the flow from inbound message to replies."""
