"""Compliance search over sealed conversations: metadata narrows, bodies are opened in process
for a reader with the right, hits come with their context, every search is audited."""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.access.service import AccessContext
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.conversations.bodies import ERASED
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.records.models import AuditEntry
from dealchat.records.personal import reveal
from dealchat.search import service, split
from dealchat.search.criteria import Criteria
from dealchat.search.split import split_url
from tests.compliance.conftest import OFF_CHANNEL
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user

URL = "/api/v1/search"


def staff_with(
    platform: Platform, name: str, grants: list[tuple[Right, dict[str, list[str]]]]
) -> TestUser:
    user = make_user(platform, name, kind="internal")
    root = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=root, name=f"r-{name}")
        for right, conditions in grants:
            access.add_grant(
                session, actor=root, role=f"r-{name}", right=right, conditions=conditions or None
            )
        access.assign(session, actor=root, role=f"r-{name}", username=name)
    return user


@pytest.fixture
def http(held_platform: Platform) -> Any:
    with TestClient(create_app(platform=held_platform)) as test_client:
        yield test_client


def _headers(platform: Platform, user: TestUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(platform, user.id)}"}


def _officer(platform: Platform) -> dict[str, str]:
    carol = staff_with(platform, "carol", [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {})])
    return _headers(platform, carol)


def test_a_client_and_phrase_search_finds_the_hit_in_its_context(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    headers = _officer(held_platform)
    found = http.get(URL, params={"client": "alice", "q": '"加我微信"'}, headers=headers)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["conversations"], body["messages"]) == (1, 1)
    hit = body["hits"][0]
    assert hit["text"] == OFF_CHANNEL
    assert hit["highlighted"] == "[[加我微信]]聊"
    assert hit["client"] == "alice"
    assert hit["conversation_url"] == f"/console/conversations/{hit['conversation_id']}"
    assert hit["before"]  # the messages around it
    assert hit["after"]
    assert hit["after"][0]["direction"] == "out"  # the bot's answer
    traditional = http.get(URL, params={"q": "加我微信 NEAR/2 聊"}, headers=headers).json()
    assert traditional["messages"] == 1  # NEAR; and bob's chat has nothing of it
    nothing = http.get(URL, params={"client": "bob", "q": "微信"}, headers=headers)
    assert nothing.status_code == 200
    assert (nothing.json()["messages"], nothing.json()["hits"]) == (0, [])
    everything_of_bob = http.get(URL, params={"client": "bob"}, headers=headers).json()
    assert "hello from bob" in [h["text"] for h in everything_of_bob["hits"]]
    assert OFF_CHANNEL not in [h["text"] for h in everything_of_bob["hits"]]


def test_order_and_alert_metadata_narrow_the_search(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    headers = _officer(held_platform)
    held = http.get(URL, params={"order_state": "held", "q": "buy"}, headers=headers).json()
    assert held["conversations"] == 1
    assert all(h["client"] == "alice" for h in held["hits"])
    alerted = http.get(URL, params={"alert_state": "open"}, headers=headers).json()
    assert {h["client"] for h in alerted["hits"]} == {"alice"}
    assert http.get(URL, params={"counterparty": "NOPE"}, headers=headers).json()["messages"] == 0


def test_bad_searches_get_a_plain_4xx(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    headers = _officer(held_platform)
    unknown = http.get(URL, params={"client": "nobody-here", "q": "x1"}, headers=headers)
    assert unknown.status_code == 404
    assert "nobody-here" in unknown.json()["title"]
    for params, words in [
        ({}, "the search is empty"),
        ({"q": "(guarantee"}, "text query"),
        ({"q": "NOT whatsapp"}, "absence"),
        ({"q": "a*"}, "wildcard"),
        ({"q": "x NEAR/99 y"}, "too wide"),
        ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "after"),
    ]:
        bad = http.get(URL, params=params, headers=headers)
        assert bad.status_code == 400, (params, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"
        assert words in bad.json()["title"], bad.json()


def test_a_reader_without_the_right_gets_no_hit_and_an_access_log_entry(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    ldn_only = staff_with(
        held_platform,
        "lena",
        [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {"desk": ["FX-LDN"]})],
    )
    found = http.get(URL, params={"q": '"加我微信"'}, headers=_headers(held_platform, ldn_only))
    assert found.status_code == 200
    body = found.json()
    assert (body["messages"], body["hits"]) == (0, [])
    assert body["refused_conversations"] >= 1
    with unit_of_work(held_platform.sessions) as session:
        denials = [
            reveal(session, json.loads(entry.payload))
            for entry in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.event == "access:denied", AuditEntry.actor == f"user:{ldn_only.id}"
                )
            )
        ]
    assert any(
        d["right"] == "conversation:read" and alice_day["alice"].id in d["operation"]
        for d in denials
    ), denials
    nobody = staff_with(held_platform, "nemo", [(Right.CONVERSATION_READ, {})])
    assert (
        http.get(URL, params={"q": "x1"}, headers=_headers(held_platform, nobody)).status_code
        == 403
    )


def test_each_search_is_audited_with_its_query_and_counts(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    headers = _officer(held_platform)
    http.get(URL, params={"client": "alice", "q": '"加我微信"'}, headers=headers)
    with unit_of_work(held_platform.sessions) as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.event == "search:run")))
        assert len(entries) == 1
        payload = reveal(session, json.loads(entries[0].payload))
    assert payload["query"] == {"client": "alice", "text": '"加我微信"'}
    assert (payload["conversations"], payload["messages"]) == (1, 1)
    assert "加我微信" not in entries[0].payload  # the query is sealed, not in clear


def test_the_console_page_shows_the_hit_marked_in_context(
    held_platform: Platform, alice_day: dict[str, Any], clock: Clock
) -> None:
    carol = staff_with(
        held_platform, "carol", [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {})]
    )
    app = create_app(platform=held_platform)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as browser:
        page = browser.get("/console/login")
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert csrf
        form = {"username": "carol", "password": carol.password,
                "otp": carol.code(clock.now.timestamp()), "csrf_token": csrf.group(1)}  # fmt: skip
        assert browser.post("/console/login", data=form).status_code == 303
        shown = browser.get("/console/search", params={"client": "alice", "q": "微信"})
        assert shown.status_code == 200
        assert "<mark>微信</mark>" in shown.text
        assert "1 message(s) in 1 conversation(s) matched" in shown.text
        assert 'href="/console/search"' in shown.text  # in the nav
        missing = browser.get("/console/search", params={"client": "nobody-here"})
        assert missing.status_code == 404
        assert "no user is called" in missing.text


def test_hits_side_by_side_share_their_context_and_every_line_has_its_time(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    headers = _officer(held_platform)
    body = http.get(URL, params={"client": "alice", "context": 2}, headers=headers).json()
    hits = body["hits"]
    assert body["messages"] == len(hits) >= 3  # no text: every message of hers is a hit
    for earlier, later in itertools.pairwise(hits):
        assert later["before"][-1]["message_id"] == earlier["message_id"]
        assert earlier["after"][0]["message_id"] == later["message_id"]
        assert later["before"][-1]["at"] == earlier["at"]
    lines = [line for hit in hits for line in (hit, *hit["before"], *hit["after"])]
    assert all(not line["at"].startswith("0001-") for line in lines), lines
    assert all(line["sender"] == "alice" for line in lines if line["direction"] == "in")


def test_an_erased_conversation_is_searched_as_erased_never_matched(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient, clock: Clock
) -> None:
    headers = _officer(held_platform)
    with unit_of_work(held_platform.sessions) as session:
        conversation = session.scalar(
            select(Conversation.id).where(Conversation.external_id == "conv-alice-77")
        )
        held_platform.desk.envelope.destroy(
            session, scope=f"conversation:{conversation}", reason="test", actor="test",
            now=clock.now,
        )  # fmt: skip
    gone = http.get(URL, params={"q": '"加我微信"'}, headers=headers).json()
    assert (gone["messages"], gone["hits"]) == (0, [])
    bobs = http.get(URL, params={"q": "bob"}, headers=headers).json()
    assert [hit["text"] for hit in bobs["hits"]] == ["hello from bob"]
    everything = http.get(URL, params={"client": "alice"}, headers=headers).json()
    assert all(hit["text"] != ERASED for hit in everything["hits"])


def test_a_search_split_over_two_processes_finds_and_refuses_exactly_what_one_does(
    held_platform: Platform, alice_day: dict[str, Any], clock: Clock
) -> None:
    """Forced to split (from 2 conversations), the search finds the same hits in the same order,
    counts the same, and logs the same denials as in one process; each process decides the
    right on its own half."""
    for number in range(4):  # more conversations, so both halves hold some
        client = make_user(held_platform, f"client{number}")
        with TestClient(create_app(platform=held_platform)) as http_client:
            chat = Chat(
                http_client,
                clock,
                conversation=f"conv-split-{number}",
                sender=f"sender-split-{number}",
            )
            chat.link_and_log_in(client)
            chat.say(f"{OFF_CHANNEL} {number}")
    lena = staff_with(
        held_platform,
        "lena",
        [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {"desk": ["NOPE"]})],
    )
    carol = staff_with(
        held_platform, "carol", [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {})]
    )
    with unit_of_work(held_platform.sessions) as session:
        assert split_url(session) is not None  # this database can be split, so it is
    for reader in (carol, lena):
        results, denials = [], []
        for split_from in (10**9, 2):
            with unit_of_work(held_platform.sessions) as session:
                user = session.get(User, reader.id)
                assert user is not None
                actor = access.actor_for(session, user)
                found = service.run(
                    session, envelope=held_platform.desk.envelope, actor=actor,
                    criteria=Criteria(text="微信", context=1), context=AccessContext("test"),
                    now=clock.now, split_from=split_from,
                )  # fmt: skip
            results.append(found.as_dict())
            with unit_of_work(held_platform.sessions) as session:
                denials.append(
                    sorted(
                        reveal(session, json.loads(entry.payload))["operation"]
                        for entry in session.scalars(
                            select(AuditEntry).where(
                                AuditEntry.event == "access:denied",
                                AuditEntry.actor == f"user:{reader.id}",
                            )
                        )
                    )
                )
        single, split = results
        assert split == single
        assert denials[1] == sorted(denials[0] * 2)  # the second run logged the same denials again
        if reader is carol:
            assert (single["messages"], single["refused_conversations"]) == (5, 0)
        else:
            assert (single["messages"], single["refused_conversations"]) == (0, 6)


def _hangs(*_: object) -> None:
    time.sleep(60)  # a forked child stuck on a lock another thread held at the fork


def test_a_second_process_that_hangs_is_killed_and_its_half_scanned_here(
    held_platform: Platform,
    alice_day: dict[str, Any],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    carol = staff_with(
        held_platform, "carol", [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {})]
    )
    monkeypatch.setattr(split, "ANSWER_SECONDS", 0.5)
    monkeypatch.setattr(split, "_child", _hangs)
    results = []
    for split_from in (10**9, 2):
        with unit_of_work(held_platform.sessions) as session:
            user = session.get(User, carol.id)
            assert user is not None
            found = service.run(
                session, envelope=held_platform.desk.envelope,
                actor=access.actor_for(session, user), criteria=Criteria(text="微信", context=1),
                context=AccessContext("test"), now=clock.now, split_from=split_from,
            )  # fmt: skip
        results.append(found.as_dict())
    single, fallen_back = results
    assert fallen_back == single
    assert single["messages"] > 0
