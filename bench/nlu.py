"""Parser throughput on the dev corpus, against a same-process `re.fullmatch` baseline.

Writes bench/results/nlu.json. Figures are ratios against a baseline run in this process, on the
same messages, so they compare across machines; messages/s is also reported for the target.
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
from pathlib import Path

from dealchat.nlu import Parser

HERE = Path(__file__).resolve().parent
CORPUS = Path(
    os.environ.get("DEALCHAT_NLU_CORPUS", HERE.parent / "tests" / "data" / "nlu_dev.jsonl")
)
TARGET = 20_000
MESSAGES = 20_000
RUNS = 5
BASELINE = re.compile(r"(buy|sell)\s+(\d+(?:\.\d+)?)([km]?)\s+([a-z]{6})", re.IGNORECASE)


def messages() -> list[str]:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text("utf-8").splitlines() if line]
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
        parser.parse(text)
        samples.append((clock() - started) / 1000)
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    work = messages()
    parser = Parser()
    parser_rate = best_rate(work, parser.parse)
    baseline_rate = best_rate(work, BASELINE.fullmatch)
    p50, p99 = latencies_us(parser, work)
    result = {
        "benchmark": "nlu",
        "messages": len(work),
        "corpus": CORPUS.name,
        "parser_msgs_per_s": round(parser_rate),
        "baseline_msgs_per_s": round(baseline_rate),
        "cost_ratio_vs_fullmatch": round(baseline_rate / parser_rate, 1),
        "p50_us": round(p50, 1),
        "p99_us": round(p99, 1),
        "target_msgs_per_s": TARGET,
        "meets_target": parser_rate >= TARGET,
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


if __name__ == "__main__":
    main()
