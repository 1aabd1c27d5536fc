"""Lexicon policies in the database: proposed, approved by a second person, versioned, previewed."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.conversations.transcript import Transcript
from dealchat.db.session import make_engine, make_session_factory, unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.records.models import AuditEntry
from dealchat.settings import Settings
from dealchat.surveillance import store
from dealchat.surveillance.backtest import backtest
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.surveillance import staff

GIFTS = """
name: gifts
category: inducements
severity: medium
rules:
  - id: gift
    query: (gift* OR present OR 礼物) AND NOT birthday
  - id: tickets
    query: tickets NEAR/3 (match OR final OR concert)
exclusions: ["gift card balance"]
"""


def _alerts(platform: Platform) -> list[tuple[str, str, int | None]]:
    with unit_of_work(platform.sessions) as s:
        rows = s.scalars(select(Alert).order_by(Alert.raised_at)).all()
        return [(a.policy, a.rule, a.policy_version) for a in rows]


def test_a_policy_is_on_only_once_a_second_person_approves_it(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    editor = staff(platform, "eddie", Right.LEXICON_EDIT, Right.RULE_APPROVE)
    approver = staff(platform, "abby", Right.RULE_APPROVE)
    chat = Chat(client, clock)
    with unit_of_work(platform.sessions) as s:
        row = store.propose(s, actor=editor, source=GIFTS, note="Q4 review")
        assert (row.name, row.version, row.state) == ("gifts", 1, "proposed")
    chat.say("a small gift for you")
    assert _alerts(platform) == []  # proposed is not on
    with pytest.raises(DealchatError) as own, unit_of_work(platform.sessions) as s:
        store.approve(s, actor=editor, name="gifts", version=1)
    assert own.value.code == ErrorCode.FORBIDDEN
    with unit_of_work(platform.sessions) as s:
        assert store.approve(s, actor=approver, name="gifts", version=1).state == "active"
    chat.say("a small gift for you")
    chat.say("a birthday gift")  # NOT birthday
    chat.say("your gift card balance")  # the exclusion
    chat.say("I have 2 tickets for the final")
    assert _alerts(platform) == [("gifts", "gift", 1), ("gifts", "tickets", 1)]
    with unit_of_work(platform.sessions) as s:
        store.propose(s, actor=editor, source=GIFTS.replace("severity: medium", "severity: high"))
        store.approve(s, actor=approver, name="gifts", version=2)
        states = [(v.version, v.state) for v in store.versions(s, actor=editor, name="gifts")]
        assert states == [(1, "superseded"), (2, "active")]
        events = s.scalars(
            select(AuditEntry.event)
            .where(AuditEntry.event.like("lexicon:%"))
            .order_by(AuditEntry.seq)
        ).all()
    assert events == [
        "lexicon:proposed",
        "lexicon:approved",
        "lexicon:proposed",
        "lexicon:approved",
    ]
    chat.say("one more present")
    assert _alerts(platform)[-1] == ("gifts", "gift", 2)


def test_a_rejection_needs_a_reason_and_a_bad_policy_is_never_stored(platform: Platform) -> None:
    editor = staff(platform, "eddie", Right.LEXICON_EDIT)
    approver = staff(platform, "abby", Right.RULE_APPROVE)
    for source, problem in (
        (GIFTS.replace("NOT birthday", "NOT"), "rules.0.query"),
        ("name: x\n", "name"),
        ("just text", "mapping"),
    ):
        with (
            pytest.raises(DealchatError, match=problem) as bad,
            unit_of_work(platform.sessions) as s,
        ):
            store.propose(s, actor=editor, source=source)
        assert bad.value.code == ErrorCode.BAD_REQUEST
    with pytest.raises(DealchatError) as denied, unit_of_work(platform.sessions) as s:
        store.propose(s, actor=approver, source=GIFTS)
    assert denied.value.code == ErrorCode.FORBIDDEN
    with unit_of_work(platform.sessions) as s:
        store.propose(s, actor=editor, source=GIFTS)
    with pytest.raises(DealchatError) as silent, unit_of_work(platform.sessions) as s:
        store.reject(s, actor=approver, name="gifts", version=1, note=" ")
    assert silent.value.code == ErrorCode.BAD_REQUEST
    with unit_of_work(platform.sessions) as s:
        assert store.reject(s, actor=approver, name="gifts", version=1, note="too broad").state == (
            "rejected"
        )
    with pytest.raises(DealchatError) as again, unit_of_work(platform.sessions) as s:
        store.approve(s, actor=approver, name="gifts", version=1)
    assert again.value.code == ErrorCode.CONFLICT


def test_an_approved_policy_replaces_the_bundled_one_of_the_same_name(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    editor = staff(platform, "eddie", Right.LEXICON_EDIT)
    approver = staff(platform, "abby", Right.RULE_APPROVE)
    mine = "name: off-channel\nrules:\n  - id: pigeon\n    query: carrier pigeon\n"
    with unit_of_work(platform.sessions) as s:
        store.propose(s, actor=editor, source=mine)
        store.approve(s, actor=approver, name="off-channel", version=1)
    chat = Chat(client, clock)
    chat.say("whatsapp me")
    chat.say("send a carrier pigeon")
    assert _alerts(platform) == [("off-channel", "pigeon", 1)]


def test_a_backtest_previews_a_policy_over_stored_messages_and_writes_nothing(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    for line in ("a gift for you", "mkt eurusd 1m", "礼物", "tickets for the cup final?", "bye"):
        chat.say(line)
    editor = staff(platform, "eddie", Right.LEXICON_EDIT)
    reader = staff(platform, "rita", Right.ALERT_READ)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with unit_of_work(platform.sessions) as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
        result = backtest(
            s, actor=editor, messages=Transcript(platform.desk), since=since, source=GIFTS
        )
        after = s.scalar(select(func.count()).select_from(AuditEntry))
        with pytest.raises(DealchatError):
            backtest(s, actor=reader, messages=Transcript(platform.desk), since=since, source=GIFTS)
    assert before == after
    assert result.flagged == 3
    assert dict(result.per_rule) == {"gift": 2, "tickets": 1}
    assert result.scanned >= 10  # five messages in, and the bot's replies
    assert {sample["highlighted"] for sample in result.samples} == {
        "a [[gift]] for you",
        "[[礼物]]",
        "[[tickets for the cup final]]?",
    }
    assert _alerts(platform) == []


def test_an_approval_on_another_node_scans_within_a_second(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process trusts the active set it read for `store.FRESH_FOR`; the approving process
    sees its approval at once."""
    editor = staff(platform, "eddie", Right.LEXICON_EDIT, Right.RULE_APPROVE)
    approver = staff(platform, "abby", Right.RULE_APPROVE)
    other = make_engine(settings.database_url)  # a second node on the same database
    try:
        with unit_of_work(platform.sessions) as s:
            before = store.active_lexicon(s)
            store.propose(s, actor=editor, source=GIFTS, note="Q4 review")
        with unit_of_work(make_session_factory(other)) as s:
            store.active_lexicon(s)  # that node has read the set too
            store.approve(s, actor=approver, name="gifts", version=1)
            assert store.lexicon_in_force(s) is None  # its own transaction reads the new set
        with unit_of_work(make_session_factory(other)) as s:
            assert store.lexicon_in_force(s) is None  # and so does it after its commit
            assert "gifts" in _policies(store.active_lexicon(s))
        with unit_of_work(platform.sessions) as s:
            assert store.lexicon_in_force(s) is before  # this node: still fresh
        monkeypatch.setattr(store, "FRESH_FOR", 0.0)
        with unit_of_work(platform.sessions) as s:
            store._LAST_READ.clear()  # what a second's wait does
            assert store.lexicon_in_force(s) is None
            assert "gifts" in _policies(store.active_lexicon(s))
    finally:
        other.dispose()


def _policies(lexicon: object) -> set[str]:
    return {policy.name for policy in lexicon.policies}  # type: ignore[attr-defined]
