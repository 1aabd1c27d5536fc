"""The review queue: claim, assign, escalate, close with a disposition, every action audited."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.conversations.transcript import Transcript
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.records.service import verify
from dealchat.surveillance import alerts as queue
from dealchat.surveillance.models import Alert
from dealchat.surveillance.service import raise_alert
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.surveillance import REVIEW, staff


@pytest.fixture
def alert_id(client: TestClient, platform: Platform, clock: Clock) -> str:
    chat = Chat(client, clock)
    chat.say("mkt eurusd 1m")
    chat.say("can you whatsapp me tonight?")
    chat.say("status")
    with unit_of_work(platform.sessions) as session:
        return session.scalars(select(Alert.id)).one()


def _code(error: pytest.ExceptionInfo[DealchatError]) -> ErrorCode:
    return error.value.code


def test_a_review_from_claim_to_close_is_recorded_step_by_step(
    alert_id: str, platform: Platform
) -> None:
    ann = staff(platform, "ann", *REVIEW)
    ben = staff(platform, "ben", *REVIEW)
    lead = staff(platform, "lead", Right.ALERT_READ, Right.ALERT_ASSIGN)
    with unit_of_work(platform.sessions) as s:
        assert [a.id for a in queue.list_alerts(s, actor=ann, status="open")] == [alert_id]
        queue.claim(s, actor=ann, alert_id=alert_id)
    with pytest.raises(DealchatError) as taken, unit_of_work(platform.sessions) as s:
        queue.claim(s, actor=ben, alert_id=alert_id)
    assert _code(taken) == ErrorCode.CONFLICT
    with pytest.raises(DealchatError) as not_held, unit_of_work(platform.sessions) as s:
        queue.close(s, actor=ben, alert_id=alert_id, disposition="no_breach", comment="fine")
    assert _code(not_held) == ErrorCode.CONFLICT
    with unit_of_work(platform.sessions) as s:
        escalated = queue.escalate(s, actor=ann, alert_id=alert_id, comment="needs a senior look")
        assert (escalated.status, escalated.escalation_level) == ("escalated", 1)
        assert escalated.assignee_id is None
        queue.assign(s, actor=lead, alert_id=alert_id, assignee="ben", comment="yours")
    for disposition, comment in (("shrug", "x"), ("no_breach", "  ")):
        with pytest.raises(DealchatError) as bad, unit_of_work(platform.sessions) as s:
            queue.close(s, actor=ben, alert_id=alert_id, disposition=disposition, comment=comment)
        assert _code(bad) == ErrorCode.BAD_REQUEST
    with unit_of_work(platform.sessions) as s:
        closed = queue.close(
            s,
            actor=ben,
            alert_id=alert_id,
            disposition="policy_reminder",
            comment="client reminded: recorded channels only",
        )
        assert (closed.status, closed.disposition) == ("closed", "policy_reminder")
        view = queue.show(s, actor=lead, alert_id=alert_id, messages=Transcript(platform.desk))
        assert verify(s).ok
    steps = [(step["event"], step["actor"]) for step in view.history]
    assert steps == [
        ("alert:raised", "surveillance"),
        ("alert:claimed", f"user:{ann.user_id}"),
        ("alert:escalated", f"user:{ann.user_id}"),
        ("alert:assigned", f"user:{lead.user_id}"),
        ("alert:closed", f"user:{ben.user_id}"),
    ]
    assert view.history[2]["comment"] == "needs a senior look"
    assert view.history[4]["disposition"] == "policy_reminder"


def test_show_highlights_the_match_and_gives_the_conversation_around_it(
    alert_id: str, platform: Platform
) -> None:
    ann = staff(platform, "ann", *REVIEW)
    with unit_of_work(platform.sessions) as s:
        view = queue.show(s, actor=ann, alert_id=alert_id, messages=Transcript(platform.desk))
    assert view.text == "can you whatsapp me tonight?"
    assert view.highlighted == "can you [[whatsapp me]] tonight?"
    texts = [(m.direction, m.text) for m in view.context]
    assert ("in", "mkt eurusd 1m") in texts
    assert ("in", "status") in texts
    assert texts.index(("in", "mkt eurusd 1m")) < texts.index(("in", view.text))
    assert texts.index(("in", view.text)) < texts.index(("in", "status"))
    assert json.dumps(view.as_json())  # serialisable for the CLI and the API


def test_rights_are_needed_for_each_action(alert_id: str, platform: Platform) -> None:
    reader = staff(platform, "rita", Right.ALERT_READ)
    nobody = staff(platform, "noel")
    for call in (
        lambda s: queue.list_alerts(s, actor=nobody),
        lambda s: queue.claim(s, actor=reader, alert_id=alert_id),
        lambda s: queue.assign(s, actor=reader, alert_id=alert_id, assignee="rita"),
    ):
        with pytest.raises(DealchatError) as denied, unit_of_work(platform.sessions) as s:
            call(s)
        assert _code(denied) == ErrorCode.FORBIDDEN


def test_nobody_reviews_an_alert_about_themselves(platform: Platform) -> None:
    dan = staff(platform, "dan", *REVIEW)
    with unit_of_work(platform.sessions) as s:
        alert = raise_alert(
            s,
            Alert(
                kind="lexicon",
                policy="p",
                rule="r",
                category="misconduct",
                severity="high",
                subject="message:test",
                party_id=dan.user_id,
            ),
        )
        assert alert is not None
        found = alert.id
    with pytest.raises(DealchatError) as denied, unit_of_work(platform.sessions) as s:
        queue.claim(s, actor=dan, alert_id=found)
    assert _code(denied) == ErrorCode.FORBIDDEN
