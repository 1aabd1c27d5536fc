"""Paths and query strings checked at the edge, before routing: no control characters.

A NUL byte (or any other control character) in a path or a query value is never meaningful to
this API, and PostgreSQL refuses NUL in text outright, so letting one through turned a lookup into
a 500. The front layer (`api.front.Front`) answers 400 problem+json naming where it was instead.
(Bodies are checked by their models; ids and text from chat platforms by
`channels.interfaces.inbound_problem`.)
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from starlette.types import Scope, Send

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1


def control_character_in(text: str) -> bool:
    return _CONTROL.search(text) is not None


def problem(where: str) -> bytes:
    return json.dumps({
        "type": "urn:dealchat:error:bad_request",
        "title": f"the {where} holds a control character",
        "status": 400,
        "code": "bad_request",
    }).encode()  # fmt: skip


def unclean(scope: Scope) -> str | None:
    """Where the request holds a control character ("path" or "query"), else None."""
    if control_character_in(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"")
    if not query:
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="replace")
    if any(control_character_in(key) or control_character_in(value) for key, value in pairs):
        return "query"
    return None


async def refuse(send: Send, where: str) -> None:
    """The 400 answer to a control character in the path or the query."""
    body = problem(where)
    await send({
        "type": "http.response.start",
        "status": 400,
        "headers": [(b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
