"""The demo's tour at whatever hour it runs: its client trades on the 24-hour desk at fresh rates.

With the real clock this runs at the hour CI runs; `make test-clock` runs it at a Saturday and at
Christmas."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.app import build_platform, create_app
from dealchat.cli.demo import seed, with_demo_rates
from dealchat.controls.models import ControlDecision
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser


def test_the_demo_client_trades_at_any_hour_at_fresh_rates(
    database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url)
    built = build_platform(with_demo_rates(settings, now=clock.now))
    platform = dataclasses.replace(built, desk=dataclasses.replace(built.desk, clock=clock))
    try:
        entry = next(user for user in seed(platform) if user["username"] == "alice")
        with unit_of_work(platform.sessions) as session:
            user_id = session.scalars(select(User.id).where(User.username == "alice")).one()
        alice = TestUser("alice", entry["password"], entry["totp_secret"], user_id)
        with TestClient(create_app(platform=platform)) as http:
            chat = Chat(http, clock)
            chat.link_and_log_in(alice)
            assert chat.text("buy 1m eurusd").startswith("TO CONFIRM")
            assert chat.log_in(chat.link("c"), alice).status_code == 200
            filled = chat.text("c")
        assert filled.startswith("FILLED ORD-"), filled
        with unit_of_work(platform.sessions) as session:
            order = session.scalars(select(Order)).one()
            decision = session.scalars(
                select(ControlDecision).where(ControlDecision.order_id == order.id)
            ).one()
            fired = [f["rule"] for f in json.loads(decision.detail)["fired"]]
        assert (decision.action, fired) == ("allow", [])  # no stale-rate score, no closed desk
    finally:
        built.engine.dispose()
