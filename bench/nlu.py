"""Parser throughput on the chat corpora, against a same-process `re.fullmatch` baseline, with the
closed-world check on (it is part of every parse); and how the parser does on the corpora.

Writes bench/results/nlu.json. Figures are ratios against a baseline run in this process, on the
same messages, so they compare across machines; messages/s is also reported for the target
(>= 20,000 on one core). The messages are the two reference corpora and our own client cases
(tests/data/nlu_dev*.jsonl, nlu_cases_*.jsonl), parsed on the day the cases with a date name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from dealchat.nlu import Parser

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"
CORPORA = [
    Path(os.environ.get("DEALCHAT_NLU_CORPUS", DATA / "nlu_dev.jsonl")),
    DATA / "nlu_dev_v2.jsonl",
    *sorted(DATA.glob("nlu_cases_*.jsonl")),
]
TODAY = dt.date(2026, 12, 7)  # the day the client cases with broken dates were written for
TARGET = 20_000
MESSAGES = 20_000
RUNS = 5
BASELINE = re.compile(r"(buy|sell)\s+(\d+(?:\.\d+)?)([km]?)\s+([a-z]{6})", re.IGNORECASE)
NUMERIC = frozenset({"quantity", "limit_price", "stop_price"})


def cases(path: Path) -> list[dict[str, object]]:
    lines = path.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def messages() -> list[str]:
    texts = [str(case["text"]) for path in CORPORA for case in cases(path)]
    repeated = texts * (MESSAGES // len(texts) + 1)
    return repeated[:MESSAGES]


def best_rate(work: list[str], one: object) -> float:
    """Messages per second, best of RUNS runs over the whole list."""
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        for text in work:
            one(text)  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return len(work) / best


def latencies_us(parser: Parser, work: list[str]) -> tuple[float, float]:
    samples = []
    clock = time.perf_counter_ns
    for text in work:
        started = clock()
        parser.parse(text, TODAY)
        samples.append((clock() - started) / 1000)
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[98]


def _same(name: str, wanted: object, got: object) -> bool:
    if name in NUMERIC and isinstance(wanted, str) and isinstance(got, str):
        return Decimal(wanted) == Decimal(got)
    if isinstance(wanted, dict) and isinstance(got, dict):
        return wanted.keys() == got.keys() and all(_same(k, wanted[k], got[k]) for k in wanted)
    return wanted == got


def accuracy(parser: Parser, path: Path) -> dict[str, object]:
    """Cases passed, and confident wrong orders: an order or amend where the case expects
    something else or other fields (the failure that matters most)."""
    passed = wrong = 0
    for case in cases(path):
        today = dt.date.fromisoformat(str(case["today"])) if "today" in case else None
        got = parser.parse(str(case["text"]), today).to_dict()
        expect = case["expect"]
        assert isinstance(expect, dict)
        if all(_same(name, value, got.get(name, "<absent>")) for name, value in expect.items()):
            passed += 1
        elif got["intent"] in ("order", "amend"):
            wrong += 1
    total = len(cases(path))
    return {"corpus": path.name, "cases": total, "passed": passed, "wrong_orders": wrong}


def main() -> None:
    work = messages()
    parser = Parser()
    parser_rate = best_rate(work, lambda text: parser.parse(text, TODAY))
    baseline_rate = best_rate(work, BASELINE.fullmatch)
    p50, p99 = latencies_us(parser, work)
    result = {
        "benchmark": "nlu",
        "messages": len(work),
        "corpora": [path.name for path in CORPORA],
        "closed_world_check": True,
        "parser_msgs_per_s": round(parser_rate),
        "baseline_msgs_per_s": round(baseline_rate),
        "cost_ratio_vs_fullmatch": round(baseline_rate / parser_rate, 1),
        "p50_us": round(p50, 1),
        "p99_us": round(p99, 1),
        "target_msgs_per_s": TARGET,
        "meets_target": parser_rate >= TARGET,
        "accuracy": [accuracy(parser, path) for path in CORPORA],
        # other work on the machine while measuring (1-minute load average, per CPU): the
        # msgs/s figure is only comparable to the target on an idle core
        "load_per_cpu": round(os.getloadavg()[0] / (os.cpu_count() or 1), 2),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = HERE / "results" / "nlu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"nlu: {result['parser_msgs_per_s']} msgs/s (target {TARGET}), "
        f"{result['cost_ratio_vs_fullmatch']}x one re.fullmatch, p50 {result['p50_us']} us, "
        f"p99 {result['p99_us']} us -> {out.relative_to(HERE.parent)}"
    )
    for row in result["accuracy"]:  # type: ignore[attr-defined]
        print(f"  {row['corpus']}: {row['passed']}/{row['cases']} passed, "
              f"{row['wrong_orders']} wrong orders")  # fmt: skip


if __name__ == "__main__":
    main()
