"""Outbound deliveries through NATS JetStream (`DEALCHAT_BUS__URL`, `DEALCHAT_BUS__OUTBOUND`).

The outbox row stays the truth: it is written in the transaction that stores the reply and its
audit entry. Once that transaction commits, the committing process publishes a notice to the
outbound stream (`Announcer`): the outbox id alone, never the words or whom they are for. Every
core node runs a `DeliveryWorker` on one durable consumer shared by all nodes; the node that
takes a notice claims that row exactly as the dispatcher's rounds claim (`Dispatcher.
deliver_noticed`: due, pending, first of its conversation, row-locked, leased), sends it and
records the outcome, and acknowledges the notice only then. A notice delivered twice, or a row
the leader's sweep took first, finds nothing to claim: acknowledged, nothing sent.

A notice is a hint: publishing never holds up the commit it follows (fire and forget, bounded),
and one that is lost (NATS away, the process dead between commit and publish) leaves the row to
the leader's dispatcher, which still sweeps every second.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from dealchat.channels import outbox
from dealchat.channels.bus import Publisher, PullWorker, Queue
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.settings import BusSettings

log = logging.getLogger("dealchat.channels.bus")
_OUTBOX_ID = re.compile(rb"^[0-9a-f]{32}$")
MAX_AGE_SECONDS = 3600.0  # a notice nobody took in an hour: the sweep has sent its row long ago
IN_FLIGHT = 256  # notices being published at once; past that they are left to the sweep


def outbound(settings: BusSettings) -> Queue:
    return Queue(
        settings.outbound_stream,
        settings.outbound_subject,
        settings.outbound_durable,
        max_age=MAX_AGE_SECONDS,
    )


class Announcer:
    """Publishes each committed delivery's notice (`outbox.announce_with` calls it after
    commit). Never raises and never waits for NATS: the caller has committed already."""

    def __init__(self, settings: BusSettings, *, name: str = "dealchat-announcer") -> None:
        self._settings = settings
        self._publisher = Publisher(settings, outbound(settings), name=name)
        self._in_flight = threading.BoundedSemaphore(IN_FLIGHT)
        self._failing = False
        self.published = 0  # notices JetStream acknowledged

    def __call__(self, item_id: str, channel: str) -> None:
        if not self._in_flight.acquire(blocking=False):
            self._note(failing=True)  # NATS slow or away: the sweep delivers these
            return
        subject = f"{self._settings.outbound_subject}.{channel}"
        try:
            future = self._publisher.loop.submit(
                self._publisher.publish(
                    [(subject, item_id.encode(), None)], self._settings.publish_timeout_seconds
                )
            )
        except Exception:  # the loop is closed: shutting down
            self._in_flight.release()
            return
        future.add_done_callback(self._done)

    def close(self) -> None:
        self._publisher.close()

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        self._in_flight.release()
        failed = future.cancelled() or future.exception() is not None
        if not failed:
            self.published += 1
        self._note(failing=failed)

    def _note(self, *, failing: bool) -> None:
        """One line when notices start failing and one when they flow again, not one each."""
        if failing != self._failing:
            self._failing = failing
            if failing:
                log.warning("outbound notices are not published; the dispatcher's sweep sends")
            else:
                log.info("outbound notices are published again")


class DeliveryWorker(PullWorker):
    """A core node's consumer of outbound notices: each one's row claimed, sent and recorded
    by `dispatcher` (this process's, sharing its rate limits) before the notice is acked."""

    def __init__(
        self, settings: BusSettings, dispatcher: Dispatcher, *, name: str = "dealchat-delivery"
    ) -> None:
        super().__init__(settings, outbound(settings), self._deliver, name=name)
        self._dispatcher = dispatcher
        self.attempts = 0  # sends this worker made

    def _deliver(self, data: bytes, subject: str) -> None:
        if not _OUTBOX_ID.match(data):
            log.warning("outbound notice without an outbox id dropped", extra={"subject": subject})
            return  # acknowledged: it can never name a row
        self.attempts += self._dispatcher.deliver_noticed(data.decode())


@contextmanager
def deliveries_by_bus(
    settings: BusSettings, sessions: sessionmaker[Session], dispatcher: Dispatcher
) -> Iterator[DeliveryWorker | None]:
    """While inside: this process announces what it queues and takes its share of notices
    (when `settings.url` and `settings.outbound`); the worker stopped and the notices off after."""
    if not (settings.url and settings.outbound):
        yield None
        return
    announcer = Announcer(settings)
    outbox.announce_with(sessions, announcer)
    worker = DeliveryWorker(settings, dispatcher).start()
    try:
        yield worker
    finally:
        worker.stop()  # a notice it took and did not finish is delivered again
        outbox.announce_with(sessions, None)
        announcer.close()
