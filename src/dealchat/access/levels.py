"""Step-up levels, declared in one place. Pure data.

0: anyone (no login); 1: a logged-in, fresh session (a linked chat within its idle and absolute
limits, or a console session or API token); 2: level 1 plus a single-use proof of both factors bound
to the hash of exactly what it approves (a chat ticket, an API operation's content).

Chat intents are declared here (conversations.flow gates on this table before any handler runs);
API operations declare theirs on the route with `require(right, level=, max_age=)`, listed by
`api.deps.declared_routes(app.routes)`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepUp:
    level: int
    max_age: int | None = None  # seconds since the login; None: the session's own limits
    why: str = ""


INTENT_LEVELS: dict[str, StepUp] = {
    "help": StepUp(0, why="help text, nothing about anyone"),
    "unknown": StepUp(0, why="asks to rephrase"),
    "clarify": StepUp(0, why="asks for the missing detail"),
    "info": StepUp(0, why="public product information"),
    "link": StepUp(0, why="sends the secure login link"),
    "reset_password": StepUp(0, why="a reset link, only to the client this chat is linked to"),
    "report": StepUp(0, why="answers where reports are; the report itself is a console right"),
    "upload": StepUp(1, why="a single-use upload link, bound to the signed-in user and chat"),
    "quote": StepUp(1, why="a price for a known client"),
    "order": StepUp(1, why="a ticket for a known client"),
    "amend": StepUp(1, why="changes the client's own open ticket; confirming it again needs 2"),
    "status": StepUp(1, why="the client's own orders"),
    "cancel": StepUp(1, why="the client's own open tickets"),
    "confirm": StepUp(2, why="trades: a proof bound to the ticket's hash, used once"),
}


def intent_level(intent: str) -> StepUp:
    """The declared level; an intent nobody declared needs the most (deny by default)."""
    return INTENT_LEVELS.get(intent, StepUp(2, why="undeclared"))
