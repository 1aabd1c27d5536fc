"""A platform whose rules hold large orders, and a day of alice's (held order, off-channel
alert) beside bob's, for the compliance workbench tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from dealchat.api.deps import Platform
from dealchat.app import build_platform, create_app
from dealchat.settings import ControlsSettings, Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user

RULES = {
    "name": "chat",
    "calendars": [{"name": "ALWAYS", "timezone": "UTC", "weekdays": [0, 1, 2, 3, 4, 5, 6]}],
    "desks": {"*": ["ALWAYS"]},
    "rules": [{"id": "big", "kind": "limit", "title": "Large order", "max_amount": "5000000"}],
}
OFF_CHANNEL = "加我微信聊"


@pytest.fixture
def held_platform(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[Platform]:
    """A platform whose rules hold any order over 5m (USD)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(RULES), encoding="utf-8")
    rates = tmp_path / "rates.yaml"
    rate = {"currency": "EUR", "rate": "1.1", "source": "test", "as_of": clock.now.isoformat()}
    rates.write_text(yaml.safe_dump({"rates": [rate]}), encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        controls=ControlsSettings(rules_file=rules, rates_file=rates),
    )
    built = build_platform(settings)
    yield dataclasses.replace(built, desk=dataclasses.replace(built.desk, clock=clock))
    built.engine.dispose()


@pytest.fixture
def alice_day(held_platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice asks to move to WeChat (an alert) and confirms an order that is held; bob chats."""
    with TestClient(create_app(platform=held_platform)) as http:
        alice = make_user(held_platform, "alice")
        chat = Chat(http, clock, conversation="conv-alice-77", sender="sender-alice-77")
        chat.link_and_log_in(alice)
        chat.say(OFF_CHANNEL)
        assert chat.text("buy 6m eurusd").startswith("TO CONFIRM")
        assert chat.log_in(chat.link("c"), alice).status_code == 200
        assert "on hold" in chat.text("c")
        bob = make_user(held_platform, "bob")
        other = Chat(http, clock, conversation="conv-bob-77", sender="sender-bob-77")
        other.link_and_log_in(bob)
        other.say("hello from bob")
    return {"alice": alice, "bob": bob}
