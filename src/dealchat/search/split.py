"""A search's second process: half of a large scan run in a forked copy of this one.

The child is forked (Linux), so it holds what the parent held when it forked (the reader, the
criteria, the envelope and its key-encryption key) without any of it crossing a pipe; it opens
its own engine on the same database, reads on its own read-only snapshot (`snapshot_engine`),
runs the work it was given and sends back only what it found (pickled, over a pipe the parent
reads). It never writes: the access log and the audit entry are the parent's. The parent's open
connection is never touched by the child. A database only this process can see (SQLite in
memory) is never split.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dealchat.db.session import make_engine, snapshot_engine

SPLIT_FROM = 400  # conversations in scope from which a search is split over two processes
ANSWER_SECONDS = 120.0  # past this the second process is killed and its half scanned here

T = TypeVar("T")


class SplitError(RuntimeError):
    """The second process failed or ended without an answer."""


def split_url(session: Session) -> str | None:
    """The database URL a second process can open, or None (not an engine, memory, no fork)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or "fork" not in multiprocessing.get_all_start_methods():
        return None
    url = bind.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        return None
    return url.render_as_string(hide_password=False)


class Second(Generic[T]):
    """The forked process and the pipe its answer comes back on."""

    def __init__(self, process: BaseProcess, answers: Connection) -> None:
        self.process, self.answers = process, answers

    def result(self, timeout: float | None = None) -> T:
        """Wait for the child's answer; SplitError if it failed, ended without one, or gave none
        within `timeout` seconds (a forked copy of a threaded server can hang on a lock another
        thread held when it forked: it is then killed, and the caller does the work itself)."""
        wait = ANSWER_SECONDS if timeout is None else timeout
        if not self.answers.poll(wait):
            self.process.kill()
            raise SplitError(f"the search's second process gave no answer in {wait:g} s")
        try:
            status, value = self.answers.recv()
        except EOFError as error:
            raise SplitError("the search's second process ended without an answer") from error
        if status != "ok":
            raise SplitError(f"the search's second process failed: {value}")
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        self.answers.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@contextmanager
def forked(url: str, work: Callable[[Session], T]) -> Iterator[Second[T]]:
    """Run `work` in a forked process on its own snapshot session of `url`; the child is
    reaped when the block ends, whether or not its result was read."""
    context = multiprocessing.get_context("fork")
    answers, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(url, work, sender), daemon=True)
    process.start()
    sender.close()
    second: Second[T] = Second(process, answers)
    try:
        yield second
    finally:
        second.close()


def _child(url: str, work: Callable[[Session], object], sender: Connection) -> None:
    engine = None
    try:
        engine = make_engine(url)
        with Session(bind=snapshot_engine(engine)) as session, session.begin():
            found = work(session)
        sender.send(("ok", found))
    except BaseException as error:  # every failure goes back to the parent
        last = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
        sender.send(("error", f"{type(error).__name__}{where}"))
    finally:
        sender.close()
        if engine is not None:
            engine.dispose()
