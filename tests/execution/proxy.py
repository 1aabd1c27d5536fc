"""A TCP relay between our initiator and a FIX acceptor that the test can cut: a fault injector on
loopback, not a FIX party (it never reads more than to find where to cut).

`cut_before(marker)` drops the next chunk from the acceptor that contains `marker` (e.g. an
ExecutionReport, b"\\x0135=8\\x01") and closes both connections, as a network failure would after
the counterparty sent it. New connections are relayed again at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from tests.execution.executor import free_port


class CutProxy:
    def __init__(self, target_port: int) -> None:
        self.port, self.target_port = free_port(), target_port
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._cut: bytes | None = None
        self._lock = threading.Lock()
        self.cuts = 0
        self._open: list[socket.socket] = []
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_before(self, marker: bytes) -> None:
        with self._lock:
            self._cut = marker

    def drop_all(self) -> None:
        """Close every relayed connection now (both ends see the network go)."""
        for end in self._open:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.cuts += 1

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_acceptor: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_acceptor and self._should_cut(chunk):
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def _should_cut(self, chunk: bytes) -> bool:
        with self._lock:
            if self._cut is not None and self._cut in chunk:
                self._cut = None
                self.cuts += 1
                return True
        return False

    def __enter__(self) -> CutProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._running = False
        self._server.close()
        for end in self._open:
            end.close()
