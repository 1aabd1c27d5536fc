"""Rules as data: the shipped YAML loads, and anything malformed is refused with the reason."""

from __future__ import annotations

from importlib.resources import files

import pytest
from pydantic import ValidationError

from dealchat.controls.definitions import LimitRule, parse_rates, parse_ruleset, ruleset_text


def _shipped(name: str) -> str:
    return files("dealchat.controls").joinpath(f"rules/{name}").read_text(encoding="utf-8")


def test_the_shipped_rule_set_and_rates_load_and_round_trip() -> None:
    rules = parse_ruleset(_shipped("default.yaml"))
    assert rules.version == 1
    assert {rule.kind for rule in rules.rules} == {
        "hours",
        "rate",
        "limit",
        "size_outlier",
        "first_use",
        "unusual_time",
    }
    assert parse_ruleset(ruleset_text(rules)) == rules
    assert "holidays:\n  - '2026-12-25'\n  - '2026-12-28'\n  - '2027-01-01'" in ruleset_text(rules)
    rates = parse_rates(_shipped("rates.yaml"))
    eur = rates.find("EUR")
    assert eur is not None
    assert eur.source == "demo fixing"
    assert str(eur.rate) == "1.0850"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("rules: [{id: a, kind: teleport}]", "does not match any of the expected tags"),
        ("rules: [{id: a, kind: limit}]", "max_amount"),
        ("rules: [{id: a, kind: limit, max_amount: '1', colour: red}]", "Extra inputs"),
        ("rules: [{id: a, kind: hours}, {id: a, kind: hours}]", "rule ids must be unique"),
        ("rules: [{id: a, kind: hours, action: allow}]", "'allow' is what is left"),
        ("rules: [{id: a, kind: limit, max_amount: '1', window: rolling}]", "window_seconds"),
        ("rules: [{id: a, kind: limit, max_amount: '-5'}]", "greater than 0"),
        ("desks: {FX: [NOPE]}", "unknown calendars"),
        ("- just a list", "YAML mapping"),
    ],
)
def test_malformed_rule_sets_are_refused_on_load(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_ruleset(text)


def test_amounts_are_decimals_never_floats() -> None:
    rules = parse_ruleset("rules: [{id: a, kind: limit, max_amount: '0.1'}]")
    rule = rules.rules[0]
    assert isinstance(rule, LimitRule)
    assert str(rule.max_amount * 3) == "0.3"


def test_a_validation_error_is_a_value_error() -> None:
    assert issubclass(ValidationError, ValueError)
