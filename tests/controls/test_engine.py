"""The pure decision: which rules fire, with which values and scores, and what is decided."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealchat.controls.definitions import Action, RateTable
from dealchat.controls.engine import History, decide, limit_checks
from dealchat.controls.history import PastOrder, summarise
from tests.controls.rulesets import RATES, TUESDAY_10_LDN, facts, ruleset

LIMIT = {"id": "single", "kind": "limit", "window": "order", "max_amount": "2000000"}


def test_nothing_fires_and_the_order_is_allowed() -> None:
    decision = decide(ruleset(LIMIT, {"id": "hours", "kind": "hours"}), facts(), rates=RATES)
    assert decision.action is Action.ALLOW
    assert decision.fired == ()
    assert decision.checked == 2
    assert decision.base_amount == Decimal("1100000.00")


def test_a_single_order_limit_is_checked_in_the_base_currency_at_the_stated_rate() -> None:
    # 1,900,000 EUR at 1.10 is 2,090,000 USD: above 2,000,000 USD although below in EUR.
    decision = decide(
        ruleset({**LIMIT, "action": "reject"}), facts(amount=Decimal("1900000")), rates=RATES
    )
    assert decision.action is Action.REJECT
    (fired,) = decision.fired
    assert fired.rule_id == "single"
    assert fired.values["order"] == "2090000.00"
    assert fired.values["limit"] == "2000000"
    assert "2,090,000.00 USD is above the single-order limit of 2,000,000.00 USD" in fired.because


def test_cumulative_limits_add_what_is_already_used() -> None:
    rule = {
        "id": "client-day",
        "kind": "limit",
        "scope": "client",
        "window": "day",
        "max_amount": "5000000",
        "action": "hold",
    }
    rules = ruleset(rule)
    (check,) = limit_checks(rules, facts())
    assert check.key == "client:c1"
    assert check.since == dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    below = decide(
        rules, facts(), rates=RATES, usage={("client-day", "client:c1"): Decimal("3900000")}
    )
    assert below.action is Action.ALLOW
    above = decide(
        rules, facts(), rates=RATES, usage={("client-day", "client:c1"): Decimal("3900001")}
    )
    assert above.action is Action.HOLD
    assert above.fired[0].values["used"] == "3900001"
    assert (
        "3,900,001.00 USD already used + 1,100,000.00 USD = 5,000,001.00 USD"
        in above.fired[0].because
    )


def test_scoped_limits_cover_only_their_region_counterparty_or_client() -> None:
    rules = ruleset(
        {"id": "apac", "kind": "limit", "scope": "region", "match": "APAC", "max_amount": "1"},
        {"id": "gs", "kind": "limit", "scope": "counterparty", "match": "GS", "max_amount": "1"},
        {"id": "emea", "kind": "limit", "scope": "region", "match": "EMEA", "max_amount": "1"},
        {
            "id": "rolling",
            "kind": "limit",
            "scope": "desk",
            "window": "rolling",
            "window_seconds": 3600,
            "max_amount": "9000000",
        },
    )
    checks = {check.rule_id: check for check in limit_checks(rules, facts())}
    assert set(checks) == {"apac", "gs", "emea", "rolling"} - {"apac", "gs"}
    assert checks["rolling"].since == TUESDAY_10_LDN - dt.timedelta(hours=1)
    decision = decide(rules, facts(), rates=RATES)
    assert [f.rule_id for f in decision.fired] == ["emea"]


def test_hours_reject_outside_the_desk_calendar_and_24h_desks_never_close() -> None:
    rules = ruleset({"id": "hours", "kind": "hours", "action": "reject"})
    evening = facts(at=dt.datetime(2026, 11, 24, 19, 0, tzinfo=dt.UTC))
    decision = decide(rules, evening, rates=RATES)
    assert decision.action is Action.REJECT
    assert "outside 07:00-18:00" in decision.fired[0].because
    assert decision.fired[0].values["calendar"] == "LDN"
    assert decision.fired[0].values["opens_at"] == "2026-11-25T07:00:00+00:00"
    assert decision.fired[0].because.endswith("; opens Wed 25 Nov 07:00 Europe/London")
    assert decide(rules, facts(desk="FX-24H", at=evening.at), rates=RATES).action is Action.ALLOW


def test_a_missing_or_stale_rate_holds_and_no_limit_passes_unconverted() -> None:
    rules = ruleset({"id": "rate", "kind": "rate", "max_age_hours": 24}, LIMIT)
    unknown = decide(rules, facts(currency="CHF"), rates=RATES)
    assert [f.rule_id for f in unknown.fired] == ["rate", "single"]
    assert "no stated rate for CHF" in unknown.fired[0].because
    assert "cannot convert CHF to USD" in unknown.fired[1].because
    stale = decide(rules, facts(at=TUESDAY_10_LDN + dt.timedelta(hours=30)), rates=RATES)
    assert stale.fired[0].values["source"] == "test fix"
    assert "is 30h old" in stale.fired[0].because
    assert decide(rules, facts(currency="USD"), rates=RateTable()).fired == ()


def _history(amounts: list[int], *, currency: str = "EUR", hour: int = 10) -> History:
    at = dt.datetime(2026, 11, 1, hour, tzinfo=dt.UTC)
    return summarise(PastOrder(Decimal(a), currency, "360T", "SPOT", at) for a in amounts)


def test_size_against_the_clients_own_history_robust_z_score() -> None:
    rules = ruleset({"id": "size", "kind": "size_outlier", "action": "score", "score": 60})
    history = _history([900_000, 1_000_000, 1_100_000, 1_000_000, 950_000] * 3)
    assert history.median == Decimal(1_000_000)
    assert history.mad == Decimal(50_000)
    usual = decide(rules, facts(), rates=RATES, history=history)  # 1.1m USD: z = 1.35
    assert usual.fired == ()
    big = decide(rules, facts(amount=Decimal(2_000_000)), rates=RATES, history=history)
    (fired,) = big.fired
    assert fired.values["z"] == "16.19"  # 0.6745 * (2.2m - 1m) / 50k
    assert big.score == 60
    assert big.action is Action.HOLD  # 60 reaches the hold threshold of 50


def test_size_percentile_method_and_too_little_history() -> None:
    rules = ruleset(
        {
            "id": "size",
            "kind": "size_outlier",
            "method": "percentile",
            "threshold": "95",
            "action": "hold",
        }
    )
    history = _history(list(range(100_000, 2_100_000, 100_000)))
    assert decide(rules, facts(amount=Decimal(1_000_000)), rates=RATES, history=history).fired == ()
    fired = decide(rules, facts(amount=Decimal(5_000_000)), rates=RATES, history=history).fired
    assert fired[0].values["percentile"] == "100.0"
    assert (
        decide(rules, facts(amount=Decimal(5_000_000)), rates=RATES, history=_history([1])).fired
        == ()
    )


@pytest.mark.parametrize(
    ("field", "change", "value"),
    [
        ("currency", {"currency": "JPY"}, "JPY"),
        ("counterparty", {"counterparty": "GS"}, "GS"),
        ("tenor", {"tenor": "1W"}, "1W"),
    ],
)
def test_first_use_of_a_currency_counterparty_or_tenor(
    field: str, change: dict[str, object], value: str
) -> None:
    rules = ruleset(
        {"id": "first", "kind": "first_use", "field": field, "action": "score", "score": 30}
    )
    history = _history([1_000_000] * 6)
    assert decide(rules, facts(), rates=RATES, history=history).fired == ()
    (fired,) = decide(rules, facts(**change), rates=RATES, history=history).fired
    assert fired.values["value"] == value
    assert f"first order with {field} {value}" in fired.because
    assert decide(rules, facts(**change), rates=RATES, history=_history([1])).fired == ()


def test_unusual_time_of_day() -> None:
    rules = ruleset({"id": "time", "kind": "unusual_time", "action": "score", "score": 25})
    history = _history([1_000_000] * 40, hour=10)
    assert decide(rules, facts(), rates=RATES, history=history).fired == ()
    night = facts(at=dt.datetime(2026, 11, 24, 3, tzinfo=dt.UTC))
    (fired,) = decide(rules, night, rates=RATES, history=history).fired
    assert fired.values == {"hour_utc": "3", "share": "0.0000", "orders": "40"}


def test_scores_add_up_to_hold_and_reject_and_reject_beats_hold() -> None:
    rules = ruleset(
        {"id": "a", "kind": "first_use", "field": "currency", "action": "score", "score": 30},
        {"id": "b", "kind": "first_use", "field": "tenor", "action": "score", "score": 30},
        {"id": "c", "kind": "first_use", "field": "counterparty", "action": "score", "score": 45},
        thresholds={"hold": 50, "reject": 100},
    )
    history = _history([1_000_000] * 6)
    two = decide(rules, facts(currency="JPY", tenor="1W"), rates=RATES, history=history)
    assert (two.action, two.score) == (Action.HOLD, 60)
    three = decide(
        rules, facts(currency="JPY", tenor="1W", counterparty="GS"), rates=RATES, history=history
    )
    assert (three.action, three.score) == (Action.REJECT, 105)
    mixed = ruleset(
        {**LIMIT, "action": "hold"}, {"id": "hours", "kind": "hours", "action": "reject"}
    )
    late = facts(amount=Decimal(9_000_000), at=dt.datetime(2026, 11, 24, 20, tzinfo=dt.UTC))
    assert decide(mixed, late, rates=RATES).action is Action.REJECT


def test_disabled_rules_are_not_checked_and_the_explanation_names_every_fired_rule() -> None:
    rules = ruleset({**LIMIT, "enabled": False}, {**LIMIT, "id": "on", "title": "Big order"})
    decision = decide(rules, facts(amount=Decimal(5_000_000)), rates=RATES)
    assert decision.checked == 1
    text = decision.explain()
    assert text.startswith("HOLD (score 0, 1 rules checked)")
    assert "- on [hold +0]: Big order: 5,500,000.00 USD is above" in text
    record = decision.as_record()
    assert record["fired"][0]["values"]["limit"] == "2000000"  # type: ignore[index]
