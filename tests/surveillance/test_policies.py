"""Policies as data: YAML validated on load, bundled off-channel policy in English and Chinese."""

from __future__ import annotations

import pytest

from dealchat.surveillance import policies
from dealchat.surveillance.lexicon import Lexicon, Utterance

GOOD = """
name: guarantees
category: misconduct
severity: high
rules:
  - id: guarantee-return
    query: guarant* NEAR/3 (return* OR profit*)
  - id: cn
    query: 保证 NEAR/4 回报
    severity: low
exclusions: ["guaranteed delivery"]
filters:
  channels: [webchat]
  directions: [in]
"""


def test_a_good_policy_loads_with_its_rules_and_filters() -> None:
    policy = policies.load(GOOD, version=4)
    assert policy.name == "guarantees"
    assert policy.version == 4
    assert [(rule.id, rule.severity) for rule in policy.rules] == [
        ("guarantee-return", "high"),
        ("cn", "low"),
    ]
    assert policy.filters.channels == frozenset({"webchat"})
    hits = Lexicon([policy]).match(Utterance("guaranteed returns", channel="webchat"))
    assert [hit.rule for hit in hits] == ["guarantee-return"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("query: 保证 NEAR/4 回报", "query: 保证 NEAR/4"), "rules.1.query"),
        (("id: cn", "id: guarantee-return"), "used twice"),
        (("severity: high", "severity: urgent"), "severity"),
        (("name: guarantees", "name: Bad Name!"), "name"),
        (("  directions: [in]", "  directions: [sideways]"), "filters.directions"),
        (("exclusions:", "colour: red\nexclusions:"), "colour"),
        (('["guaranteed delivery"]', '["***"]'), "exclusions"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(change: tuple[str, str], problem: str) -> None:
    with pytest.raises(policies.PolicyError, match=problem.replace(".", r"\.")):
        policies.load(GOOD.replace(*change))


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(policies.PolicyError, match="mapping"):
        policies.load("- just\n- a list\n")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("whatsapp me", "other-app"),
        ("Can you WhatsApp me tonight?", "other-app"),
        ("text me on signal", "other-app"),
        ("let's move this to telegram", "other-app"),
        ("call my cell", "personal-phone"),
        ("ring me on my mobile later", "personal-phone"),
        ("keep this off the record", "off-record"),
        ("加我微信", "cn-other-app"),
        ("加我微信吧", "cn-other-app"),
        ("我們用WhatsApp聯繫", "cn-other-app"),
        ("打我手机", "cn-personal-phone"),
        ("打我手機", "cn-personal-phone"),
        ("我们私下聊", "cn-off-record"),
        ("我們私下聊", "cn-off-record"),
    ],
)
def test_the_bundled_policy_sees_a_client_moving_channels(text: str, rule: str) -> None:
    lx = Lexicon(policies.bundled())
    hits = lx.match(Utterance(text, channel="webchat", direction="in"))
    assert rule in [hit.rule for hit in hits], [hit.rule for hit in hits]
    assert {hit.category for hit in hits} == {"off_channel"}


@pytest.mark.parametrize(
    "text",
    [
        "buy 1m eurusd 1W 360t",
        "mkt eurusd 1m",
        "what is the price on cable",
        "signal received, thanks",
        "status",
        "买入100万欧元兑美元",
    ],
)
def test_the_bundled_policy_leaves_ordinary_dealing_alone(text: str) -> None:
    assert Lexicon(policies.bundled()).match(Utterance(text, direction="in")) == []


def test_the_bundled_policy_watches_clients_and_bank_users_alike() -> None:
    """A dealer writing from the desk is read like a client (issue 14); the bot's own
    templates are never scanned (surveillance.service skips its messages)."""
    lx = Lexicon(policies.bundled())
    assert [h.rule for h in lx.match(Utterance("whatsapp me", direction="out"))] == ["other-app"]
    assert [h.rule for h in lx.match(Utterance("whatsapp me", direction="in"))] == ["other-app"]
