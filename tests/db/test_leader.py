"""One leader among the processes on one database: the lock is taken once, and another process
takes the jobs over when the leader ends."""

from __future__ import annotations

import threading

from dealchat.api.deps import Platform
from dealchat.db.leader import Leadership
from dealchat.settings import Settings


def test_one_leads_and_another_takes_over_when_it_ends(
    platform: Platform, settings: Settings
) -> None:
    elected: list[str] = []
    second_elected = threading.Event()

    def on(name: str) -> None:
        elected.append(name)
        if name == "second":
            second_elected.set()

    first = Leadership(
        platform.engine, settings.data_dir, on_elected=lambda: on("first"), retry_seconds=0.1
    ).start()
    second = Leadership(
        platform.engine, settings.data_dir, on_elected=lambda: on("second"), retry_seconds=0.1
    ).start()
    try:
        assert (first.leader, second.leader) == (True, False)
        assert not second_elected.wait(0.5)  # it keeps asking, and keeps not getting it
        first.stop()
        assert second_elected.wait(10)
        assert elected == ["first", "second"]
    finally:
        first.stop()
        second.stop()
