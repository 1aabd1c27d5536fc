"""Live updates: what changed is published after commit to the open pages that follow it.

`signals.touched(session, topic)` marks a topic in a transaction (a conversation got a message, a
take-over); when the transaction commits, the platform's `Hub` wakes every subscriber of that
topic, and each subscriber reads what is new from the database itself. The hub carries no data,
so a missed wake-up loses nothing: the next read catches up. `watcher` wakes the hub for changes
committed by other processes.
"""
