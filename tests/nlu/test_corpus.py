"""Every case of the reference corpora (tests/data/nlu_dev.jsonl for NLU.md, nlu_dev_v2.jsonl for
its "Version 2") and of our own client cases (tests/data/nlu_cases_*.jsonl) passes.

A case lists only the fields it checks; a case with `today` parses on that day (broken dates)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from tests.nlu.helpers import mismatches

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = Path(os.environ.get("DEALCHAT_NLU_CORPUS", DATA / "nlu_dev.jsonl"))
CORPUS_V2 = DATA / "nlu_dev_v2.jsonl"
CLIENT_CASES = sorted(DATA.glob("nlu_cases_*.jsonl"))


def read_cases(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = read_cases(CORPUS)
CASES_V2 = read_cases(CORPUS_V2)
OWN = [case for path in CLIENT_CASES for case in read_cases(path)]


def _check(case: dict[str, object]) -> None:
    expect = case["expect"]
    assert isinstance(expect, dict)
    today = dt.date.fromisoformat(str(case["today"])) if "today" in case else None
    assert mismatches(str(case["text"]), expect, today) == []


def test_corpora_are_there() -> None:
    assert len(CASES) >= 40, f"expected the reference corpus at {CORPUS}"
    assert len(CASES_V2) >= 28, f"expected the v2 reference corpus at {CORPUS_V2}"
    assert len(OWN) >= 500, "expected our own client cases in tests/data/nlu_cases_*.jsonl"


@pytest.mark.parametrize("case", CASES, ids=[str(c["text"]) for c in CASES])
def test_corpus_case(case: dict[str, object]) -> None:
    _check(case)


@pytest.mark.parametrize("case", CASES_V2, ids=[str(c["text"]) for c in CASES_V2])
def test_corpus_v2_case(case: dict[str, object]) -> None:
    _check(case)


@pytest.mark.parametrize("case", OWN, ids=[f"{c['class']}: {c['text']}" for c in OWN])
def test_client_case(case: dict[str, object]) -> None:
    _check(case)
