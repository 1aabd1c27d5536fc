"""Changes other processes made: several `dealchat serve` processes on one database, or a command
(`dealchat holds release`, `dealchat fix decide`) telling a client something, wake this process's
pages too.

The hub only hears its own process's commits (`signals`). The watcher reads, every `interval`
seconds in a read-only snapshot, the conversations whose `updated_at` moved (every message and
every change of who handles a conversation sets it, in the writing transaction) and publishes
each one whose number or time differs from what it saw last. It looks back `overlap` seconds
past the newest time it has seen, so a transaction that took its time to commit is not missed;
what it already saw is not published again. A change this process made itself is published
twice (once by `signals` at commit, once here), which a stream absorbs: it reads, finds nothing
new, and waits again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dealchat.conversations.models import Conversation
from dealchat.db.session import reading
from dealchat.live.signals import conversation_topic

log = logging.getLogger(__name__)

Seen = tuple[int, dt.datetime]


class Watcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        publish: Callable[[Iterable[str]], None],
        *,
        interval: float = 0.5,
        overlap: dt.timedelta = dt.timedelta(seconds=30),
    ) -> None:
        self._sessions, self._publish = sessions, publish
        self._interval, self._overlap = interval, overlap
        self._seen: dict[str, Seen] = {}
        self._newest: dt.datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Watcher:
        self.poll(publish=False)  # what exists now is not news
        self._thread = threading.Thread(target=self._loop, name="live-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def poll(self, *, publish: bool = True) -> list[str]:
        """Read what changed since the last poll; publish (and return) its topics."""
        newest = self._newest or dt.datetime.now(dt.UTC)
        with reading(self._sessions) as session:
            rows = session.execute(
                select(Conversation.id, Conversation.last_seq, Conversation.updated_at).where(
                    Conversation.updated_at >= newest - self._overlap
                )
            ).all()
        changed = []
        for cid, seq, at in rows:
            if at is None or self._seen.get(cid) == (seq, at):
                continue
            changed.append(cid)
            self._seen[cid] = (seq, at)
            self._newest = at if self._newest is None else max(self._newest, at)
        self._forget()
        topics = [conversation_topic(cid) for cid in changed]
        if publish and topics:
            self._publish(topics)
        return topics

    def _forget(self) -> None:
        """Drop what is older than the window: it is never read again."""
        if self._newest is None:
            return
        horizon = self._newest - self._overlap * 2
        for cid in [cid for cid, (_, at) in self._seen.items() if at < horizon]:
            del self._seen[cid]

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:
                log.exception("live watcher poll failed")
