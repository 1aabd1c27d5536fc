"""`dealchat parse` as a real process: one JSON object per message, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "dealchat.cli.main", "parse", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    return done.stdout.decode("utf-8"), stderr


def test_one_message_prints_one_json_object() -> None:
    out, _ = _run("buy 1m eurusd 1W 360t")
    parsed = json.loads(out)
    assert parsed["intent"] == "order"
    assert parsed["pair"] == "EUR/USD"
    assert parsed["counterparty"] == "360T"
    assert "explain" not in parsed


def test_explain_names_the_fields() -> None:
    parsed = json.loads(_run("--explain", "bid 5mm US912828XG50 @ 99-16+")[0])
    fields = {part["field"]: part["token"] for part in parsed["explain"]}
    assert fields == {
        "side": "bid",
        "quantity": "5mm",
        "isin": "US912828XG50",
        "order_type": "@",
        "limit_price": "99-16+",
    }


def test_jsonl_answers_every_line_in_order_whatever_the_bytes() -> None:
    lines = [b"buy 1m eurusd", b"", b"\xff\xfe invalid utf-8", b"mine\r", b"x" * 100_000, b"help"]
    out, _ = _run("--jsonl", stdin=b"\n".join(lines))  # and no final newline
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["intent"] for a in answers] == [
        "order",
        "unknown",
        "unknown",
        "order",
        "clarify",
        "help",
    ]


def test_a_closed_pipe_ends_quietly() -> None:
    feeder = subprocess.Popen(
        [sys.executable, "-m", "dealchat.cli.main", "parse", "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert feeder.stdout is not None
    assert feeder.stdin is not None
    feeder.stdout.close()  # like `| head -0`
    try:
        feeder.stdin.write(b"buy 1m eurusd\n" * 50_000)
        feeder.stdin.close()
    except BrokenPipeError:
        pass
    _, stderr = feeder.communicate(timeout=60)
    assert b"Traceback" not in stderr
    assert feeder.returncode == 0


@pytest.mark.parametrize(
    ("text", "counterparty", "intent"),
    [("buy 1m eurusd bnp", "BNP", "order"), ("buy 1m eurusd 360t", None, "clarify")],
)
def test_counterparties_come_from_settings(
    text: str, counterparty: str | None, intent: str
) -> None:
    out, _ = _run(text, env={"DEALCHAT_NLU__COUNTERPARTIES": '["BNP"]'})
    parsed = json.loads(out)
    assert parsed["intent"] == intent
    assert parsed.get("counterparty") == counterparty


def test_explain_accounts_for_every_word_and_today_dates_broken_dates() -> None:
    parsed = json.loads(
        _run("--explain", "--today", "2026-12-07", "pls buy 1m eurusd 15dec via goldman thx")[0]
    )
    assert parsed["tenor"] == "2026-12-15"
    assert [(p["token"], p["field"]) for p in parsed["explain"]] == [
        ("pls", "filler"),
        ("buy", "side"),
        ("1m", "quantity"),
        ("eurusd", "pair"),
        ("15dec", "tenor"),
        ("via", "counterparty"),
        ("goldman", "counterparty"),
        ("thx", "filler"),
    ]
    later = json.loads(_run("--today", "2026-12-20", "buy 1m eurusd 15dec")[0])
    assert later["tenor"] == "2027-12-15"


def test_explain_names_the_word_a_clarify_did_not_understand() -> None:
    parsed = json.loads(_run("--explain", "buy 1m eurusd for client abc")[0])
    assert parsed["intent"] == "clarify"
    assert parsed["word"] == "client"
    assert parsed["explain"][-1] == {
        "token": "client",
        "field": "not understood",
        "value": "unknown_word",
    }


def test_a_bad_today_is_refused_plainly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dealchat.cli.main", "parse", "--today", "15dec", "x"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"YYYY-MM-DD" in done.stderr
    assert b"Traceback" not in done.stderr
