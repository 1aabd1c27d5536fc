"""Every case of the reference corpus tests/data/nlu_dev.jsonl passes (docs/NLU.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.nlu.helpers import mismatches

CORPUS = Path(
    os.environ.get(
        "DEALCHAT_NLU_CORPUS",
        Path(__file__).resolve().parents[1] / "data" / "nlu_dev.jsonl",
    )
)


def _cases() -> list[dict[str, object]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = _cases()


def test_corpus_is_there() -> None:
    assert len(CASES) >= 40, f"expected the reference corpus at {CORPUS}"


@pytest.mark.parametrize("case", CASES, ids=[str(c["text"]) for c in CASES])
def test_corpus_case(case: dict[str, object]) -> None:
    expect = case["expect"]
    assert isinstance(expect, dict)
    assert mismatches(str(case["text"]), expect) == []
