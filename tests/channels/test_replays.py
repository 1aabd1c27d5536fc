"""Replay guards shared through the database: what one process saw, another refuses."""

from __future__ import annotations

import datetime as dt

import pytest

from dealchat.api.deps import Platform
from dealchat.channels.http import ReplayGuard
from dealchat.channels.interfaces import Rejected
from dealchat.channels.replays import DatabaseReplays

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(minutes=5)


def _guards(platform: Platform, scope: str = "slack") -> tuple[ReplayGuard, ReplayGuard]:
    """Two processes' guards of one adapter, each with its own store object."""
    one, two = ReplayGuard(WINDOW), ReplayGuard(WINDOW)
    one.share(DatabaseReplays(platform.sessions), scope)
    two.share(DatabaseReplays(platform.sessions), scope)
    return one, two


def test_a_proof_seen_by_one_process_is_a_replay_at_the_other(platform: Platform) -> None:
    one, two = _guards(platform)
    one.check("v0=signature-1", now=T0)
    with pytest.raises(Rejected, match="replayed"):
        two.check("v0=signature-1", now=T0 + dt.timedelta(seconds=1))
    with pytest.raises(Rejected, match="replayed"):
        one.check("v0=signature-1", now=T0 + dt.timedelta(seconds=2))
    two.check("v0=signature-2", now=T0)  # another request
    other_adapter, _ = _guards(platform, scope="whatsapp")
    other_adapter.check("v0=signature-1", now=T0)  # each adapter has its own proofs


def test_a_released_proof_lets_the_platform_retry_and_old_proofs_expire(
    platform: Platform,
) -> None:
    one, two = _guards(platform)
    one.check("nonce-1", now=T0)
    one.release("nonce-1")  # we failed to process it: the platform's retry must get in
    two.check("nonce-1", now=T0 + dt.timedelta(seconds=5))
    later = T0 + WINDOW * 2 + dt.timedelta(seconds=6)  # stale by then anyway: kept no longer
    one.check("nonce-1", now=later)
