"""`dealchat serve --workers N`: N server processes sharing one listening socket (pre-fork).

The parent does everything that must happen once before anyone serves: migrating the database
and making the keys on first run (sealing key, key-encryption key, checkpoint signing key), so
workers never race to create them. It then binds the socket and forks the workers, each of which
builds its own platform (engine, pools, threads: nothing crosses a fork) and runs uvicorn on the
inherited socket through `cli.common.serve_app`, so SIGTERM, SIGHUP and SIGQUIT end each worker
gracefully as they end one `dealchat serve`. The parent forwards those signals (and SIGINT) to
its workers, waits for them, and exits as one process would; if a worker dies on its own, the
parent stops the others and exits 1 (the service manager restarts the whole server).

Jobs that must run once (checkpointer, witnesses, sweeper, directory sync, FIX sessions, the
outbox dispatcher, Matrix) run in the leader (`db.leader`), whichever worker or node that is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

from dealchat.cli.common import ENDING_SIGNALS, Ended

log = logging.getLogger("dealchat.serve")

FORWARDED = (*ENDING_SIGNALS, signal.SIGINT)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_workers(count: int, sock: socket.socket, serve_one: Callable[[int], None]) -> None:
    """Fork `count` workers running `serve_one(index)`; supervise them until they have ended."""
    children: dict[int, int] = {}
    for index in range(count):
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            os._exit(_worker(serve_one, index))
        children[pid] = index
    sock.close()  # the workers hold it
    _supervise(children)


def _worker(serve_one: Callable[[int], None], index: int) -> int:
    try:
        serve_one(index)
    except SystemExit as ended:
        return ended.code if isinstance(ended.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", index)
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def _supervise(children: dict[int, int]) -> None:
    asked: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        asked.append(signum)
        _signal_all(children, signal.SIGTERM if signum == signal.SIGINT else signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    failed = False
    try:
        while children:
            pid, status = os.wait()
            index = children.pop(pid, None)
            if index is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if not asked and not failed:
                log.error("worker %d ended on its own (exit %d): stopping the others", index, code)
                failed = True
                _signal_all(children, signal.SIGTERM)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if asked:
        raise Ended(128 + asked[0])
    if failed:
        raise SystemExit(1)


def _signal_all(children: dict[int, int], signum: int) -> None:
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):  # ended already: os.wait reaps it
            os.kill(pid, signum)
