"""`dealchat holds` and `dealchat rules` against a real database, as an operator runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.controls.service import shipped_text
from dealchat.conversations import pretrade
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from dealchat.settings import Settings
from tests.factories.access import token_for
from tests.factories.controls import client, ticket
from tests.factories.identity import TestUser, make_user


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    return settings


def _staff(platform: Platform, *names: str) -> dict[str, str]:
    """Internal users holding the controls rights, each with an API token to act with (their
    passwords and authenticator secrets in `STAFF`, for the step-up approvals ask for)."""
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=system, name="controls")
        for right in ("order:approve", "rule:edit", "rule:approve"):
            access.add_grant(
                session, actor=system, role="controls", right=access.parse_right(right)
            )
    tokens = {}
    for name in names:
        user = make_user(platform, name, kind="internal")
        with unit_of_work(platform.sessions) as session:
            access.assign(session, actor=system, role="controls", username=name)
        tokens[name] = token_for(platform, user.id)
        STAFF[tokens[name]] = user
    return tokens


STAFF: dict[str, TestUser] = {}


def _step_up(token: str, *, password: str | None = None) -> str:
    """What the acting user types at the step-up prompts: password, then a fresh code."""
    user = STAFF[token]
    return f"{password or user.password}\n{user.code(time.time())}\n"


def _held_order(platform: Platform) -> str:
    """30m EUR (32.55m USD) is above the shipped daily client limit of 25m USD: held."""
    alice = client(platform, "alice")
    now = platform.desk.clock()
    with unit_of_work(platform.sessions) as session:
        order = ticket(session, client_id=alice, quantity="30000000", now=now)
        user = session.get(User, alice)
        assert user is not None
        pretrade.place_checked(session, desk=platform.desk, order=order, client=user, now=now)
        assert order.state == "held"
        return order.ref


def _events(platform: Platform, event: str) -> int:
    with unit_of_work(platform.sessions) as session:
        found = session.scalars(select(AuditEntry.seq).where(AuditEntry.event == event))
        return len(found.all())


def _run(*args: str, typed: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=typed)
    assert result.exit_code == 0, result.output
    return result.output


def test_holds_list_approve_and_who_may_not(env: Settings, platform: Platform) -> None:
    tokens = _staff(platform, "carol")
    mallory = make_user(platform, "mallory", kind="internal")  # no role: no order:approve
    ref = _held_order(platform)
    listed = _run("holds", "list")
    assert f"{ref} open approvals 0/1" in listed
    assert (
        "client-day [hold +0]: Daily client limit: 0.00 USD already used + 32,550,000.00 USD"
        in listed
    )
    refused = CliRunner().invoke(
        app, ["holds", "approve", ref, "--token", token_for(platform, mallory.id)]
    )
    assert refused.exit_code == 3
    assert "needs order:approve" in refused.output
    forged = CliRunner().invoke(app, ["holds", "approve", ref, "--token", "not-a-token"])
    assert forged.exit_code == 3  # nobody approves in a name they cannot prove
    assert "open approvals 0/1" in _run("holds", "list")
    approve = ["holds", "approve", ref, "--token", tokens["carol"], "--comment", "known client"]
    wrong = CliRunner().invoke(app, approve, input=_step_up(tokens["carol"], password="guess"))
    assert wrong.exit_code == 3  # level 2: the token alone does not approve
    assert "guess" not in wrong.output
    assert "open approvals 0/1" in _run("holds", "list")
    assert _events(platform, "authn:failed") == 1  # committed: lockout counts it
    assert _events(platform, "stepup:granted") == 0
    done = _run(*approve, typed=_step_up(tokens["carol"]))
    assert f"Step-up for holds approve {ref} as carol" in done
    assert done.endswith(f"{ref} is filled\n")
    assert _events(platform, "stepup:granted") == _events(platform, "stepup:used") == 1
    assert "no open holds" in _run("holds", "list")
    assert f"{ref} released approvals 1/1" in _run("holds", "list", "--state", "all")


def test_a_rule_change_needs_a_second_person_and_can_be_backtested_first(
    env: Settings, platform: Platform, tmp_path: Path
) -> None:
    tokens = _staff(platform, "carol", "dave")
    ref = _held_order(platform)
    loose = yaml.safe_load(shipped_text("default.yaml"))
    for rule in loose["rules"]:
        if rule["id"] in ("client-day", "client-hour"):
            rule["max_amount"] = "40000000"
    proposal = tmp_path / "loose.yaml"
    proposal.write_text(yaml.safe_dump(loose), encoding="utf-8")

    report = json.loads(_run("rules", "backtest", "--file", str(proposal), "--json"))
    assert report["orders"] == 1
    assert report["decisions"] == {"allow": 1}
    assert report["changed"][0]["ref"] == ref
    assert report["changed"][0]["was"] == "hold"

    proposed = _run(
        "rules", "propose", str(proposal), "--token", tokens["carol"], "--comment", "raise"
    )
    version_id = proposed.split(" as ")[1].split(";")[0]
    assert "default v2" in proposed
    assert "40000000" not in _run("rules", "show")  # proposed is not in force
    own = CliRunner().invoke(
        app,
        ["rules", "approve", version_id, "--token", tokens["carol"]],
        input=_step_up(tokens["carol"]),
    )
    assert own.exit_code in (2, 3)
    assert "a second person must approve" in own.output
    approved = _run(
        "rules", "approve", version_id, "--token", tokens["dave"], typed=_step_up(tokens["dave"])
    )
    assert approved.endswith("default v2 is active\n")
    assert "40000000" in _run("rules", "show")
    assert f"{version_id} default v2 active" in _run("rules", "versions")
    with unit_of_work(platform.sessions) as session:
        order = session.query(Order).filter_by(ref=ref).one()
        assert order.state == "held"  # a new version decides new orders only
