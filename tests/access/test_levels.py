"""One declared table of step-up levels for chat intents, and the chat flow obeys it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from dealchat.access.levels import INTENT_LEVELS, intent_level
from dealchat.api.deps import Platform
from dealchat.nlu import IntentKind, Parser
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import make_user

SAMPLES = {
    "help": "help",
    "info": "info eurusd",
    "quote": "mkt eurusd 1m",
    "order": "buy 1m eurusd",
    "amend": "make it 2m",
    "status": "status",
    "cancel": "x",
    "confirm": "c",
    "upload": "upload",
}


def test_every_intent_declares_a_level_and_an_undeclared_one_needs_the_most() -> None:
    assert set(INTENT_LEVELS) == {kind.value for kind in IntentKind}
    assert all(step.level in (0, 1, 2) and step.why for step in INTENT_LEVELS.values())
    assert intent_level("launch-missiles").level == 2
    assert INTENT_LEVELS["confirm"].level == 2


def test_the_chat_answers_each_intent_as_its_level_says(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    parser = Parser()
    for name, text in SAMPLES.items():
        assert parser.parse(text).intent.value == name, text
    anonymous = Chat(client, clock, conversation="conv-anon-0001", sender="sender-anon-01")
    for name, text in SAMPLES.items():
        replies = anonymous.say(text)
        # sent to log in: a link, or the one live link already sent (one per chat and purpose)
        gets_link = bool(replies[0]["link"]) or replies[0]["text"].startswith(
            "A secure link was already sent in this chat"
        )
        assert gets_link == (INTENT_LEVELS[name].level >= 1), f"{name}: {replies}"
    linked = Chat(client, clock)
    linked.link_and_log_in(make_user(platform))
    for name in ("quote", "status"):
        assert not linked.say(SAMPLES[name])[0]["link"], name
    linked.say("buy 1m eurusd")
    step_up = linked.say("c")
    assert step_up[0]["link"], "level 2: a logged-in chat still needs a proof for the ticket"
    decisions = _chat_decisions(platform)
    denied = [d for d in decisions if d["result"] == "denied"]
    allowed = [d for d in decisions if d["result"] == "allowed"]
    gated = sorted(name for name, step in INTENT_LEVELS.items() if step.level >= 1)
    assert sorted(d["operation"].split()[1] for d in denied) == gated
    assert all(d["rule"].endswith("no logged-in chat session") for d in denied)
    assert {d["user"] for d in allowed} == {"alice"}
    assert all(d["channel"] == "chat:webchat" for d in decisions)
    assert "intent confirm (level 2)" in {d["operation"] for d in allowed}


def _chat_decisions(platform: Platform) -> list[dict[str, Any]]:
    return entries(platform, "access:allowed", "access:denied")
