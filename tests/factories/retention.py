"""`dealchat retention run` in tests, composed as the CLI composes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dealchat.api.deps import Platform
from dealchat.cli.retention import policy_of, sweeps
from dealchat.conversations.holds import scopes_for_hold
from dealchat.db.session import unit_of_work
from dealchat.records import retention
from dealchat.settings import Settings


def run_retention(platform: Platform, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """The run's JSON-ready report: the settings' policy, holds resolved and every sweep, as
    `dealchat retention run --now` does, in one transaction."""
    with unit_of_work(platform.sessions) as session:
        return retention.run(
            session,
            envelope=platform.desk.envelope,
            policy=policy_of(settings),
            resolve=scopes_for_hold,
            sweeps=sweeps(settings, platform.desk.policy.lockout),
            now=now,
            actor="test",
        )
