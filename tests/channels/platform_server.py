"""A stand-in for a chat platform's cloud API: a real HTTP server on a free loopback port that
records every call and answers with scripted responses (status, headers, JSON), FIFO, then the
default answer for the path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class PlatformServer:
    url: str
    calls: list[Call]
    script: list[Answer]
    defaults: dict[str, Callable[[Call], Answer]]

    def answer_next(self, *answers: Answer) -> None:
        self.script.extend(answers)


@contextmanager
def platform_server(
    defaults: dict[str, Callable[[Call], Answer]] | None = None,
) -> Iterator[PlatformServer]:
    calls: list[Call] = []
    script: list[Answer] = []
    routes = dict(defaults or {})
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            parsed = urlparse(self.path)
            call = Call(
                method=self.command,
                path=parsed.path,
                query={k: v[0] for k, v in parse_qs(parsed.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            with lock:
                calls.append(call)
                answer = script.pop(0) if script else None
            if answer is None:
                route = routes.get(call.path)
                answer = route(call) if route else Answer()
            raw = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("content-type", "application/json")
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_POST = do_GET = _handle  # noqa: N815 - http.server's naming

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PlatformServer(f"http://127.0.0.1:{server.server_address[1]}", calls, script, routes)
    finally:
        server.shutdown()
        server.server_close()
