"""Controls and surveillance figures, one function per section, merged into one JSON by key.

Writes bench/results/controls.json: each section owns one top-level key ("pretrade" for the
pre-trade check, "lexicon" for surveillance); running one section keeps the others' figures.
`python bench/controls.py [section ...]` runs the named sections (default: all).

lexicon: messages matched per second against 1,000 lexicon terms (words, phrases, prefix and
inner wildcards, NEAR rules, Chinese terms) in 10 policies, against a same-run baseline: one
precompiled `re` alternation of the same words and phrases over the lower-cased text (which does
less: no folding, no proximity, no Chinese script mapping, no spans per rule).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controls_pretrade import pretrade  # the pre-trade section (6a), in its own module
from dealchat.surveillance import query
from dealchat.surveillance.lexicon import Lexicon, Policy, Rule, Utterance

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "controls.json"
RUNS = 5

LEXICON_TERMS = 1_000
LEXICON_MESSAGES = 20_000
LEXICON_TARGET = 5_000
_SYLLABLES = "ka lo mi ne ru ta shi po ve an ex or in de ga tu ri so be la".split()
_FILLER = "bra cle dro fly gue hum jaw kip nox pyt quo wex yar zum".split()
_HAN = "保证回报收益内幕消息私下联系手机微信电话价格大量订单客户交易风险市场利润"
_CHAT = [
    "buy 1m eurusd 1W 360t",
    "mkt eurusd 1m",
    "what is the price on cable for 5 million",
    "sell 2.5m usdjpy spot please",
    "thanks, that works for us, please confirm the fill",
    "can you show me a two way in gbpusd 10m 3M",
    "我们想买入一百万欧元",
    "status",
    "any news on the payrolls today? the market looks thin",
    "ok done, speak later",
]


def _word(rng: random.Random, syllables: list[str] = _SYLLABLES) -> str:
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))


def _lexicon_queries(rng: random.Random) -> tuple[list[str], list[str]]:
    """1,000 queries of mixed kinds, and the plain words/phrases among them (for the baseline)."""
    queries: list[str] = []
    plain: list[str] = []
    while len(queries) < LEXICON_TERMS:
        kind = rng.random()
        if kind < 0.55:
            text = _word(rng)
            plain.append(text)
        elif kind < 0.75:
            text = " ".join(_word(rng) for _ in range(rng.randint(2, 3)))
            plain.append(text)
            text = f'"{text}"'
        elif kind < 0.85:
            text = _word(rng) + "*"
        elif kind < 0.88:
            word = _word(rng)
            text = word[:2] + "?" + word[3:] if len(word) > 4 else word + "*"
        elif kind < 0.95:
            text = f"{_word(rng)} NEAR/3 ({_word(rng)} OR {_word(rng)})"
        else:
            text = "".join(rng.choice(_HAN) for _ in range(rng.randint(2, 4)))
            plain.append(text)
        queries.append(text)
    return queries, plain


def _lexicon_messages(rng: random.Random, plain: list[str]) -> list[str]:
    """Chat lines with filler words; one in twenty carries a lexicon word or phrase."""
    out = []
    for index in range(LEXICON_MESSAGES):
        words = rng.choice(_CHAT).split() + [_word(rng, _FILLER) for _ in range(rng.randint(0, 6))]
        if index % 20 == 0:
            words.insert(rng.randint(0, len(words)), rng.choice(plain).upper())
        out.append(" ".join(words))
    return out


def _best_rate(work: list[str], one: Callable[[str], object]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        for text in work:
            one(text)
        best = min(best, time.perf_counter() - started)
    return len(work) / best


def lexicon() -> dict[str, Any]:
    rng = random.Random(6)
    queries, plain = _lexicon_queries(rng)
    policies = [
        Policy(
            f"bench-{p}",
            1,
            tuple(
                Rule(f"r{i}", text, query.parse(text), "medium")
                for i, text in enumerate(queries[p * 100 : (p + 1) * 100])
            ),
        )
        for p in range(LEXICON_TERMS // 100)
    ]
    started = time.perf_counter()
    compiled = Lexicon(policies)
    compile_ms = (time.perf_counter() - started) * 1000
    work = _lexicon_messages(rng, plain)
    baseline = re.compile(
        r"\b(?:" + "|".join(re.escape(text) for text in sorted(plain, key=len, reverse=True)) + ")"
    )

    def matcher(text: str) -> object:
        return compiled.match(Utterance(text, channel="webchat"))

    def naive(text: str) -> object:
        return baseline.findall(text.lower())

    rate = _best_rate(work, matcher)
    baseline_rate = _best_rate(work, naive)
    samples = []
    for text in work:
        begun = time.perf_counter_ns()
        matcher(text)
        samples.append((time.perf_counter_ns() - begun) / 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {
        "terms": compiled.term_count,
        "queries": len(queries),
        "policies": len(policies),
        "messages": len(work),
        "messages_with_hits": sum(1 for text in work if matcher(text)),
        "compile_ms": round(compile_ms, 1),
        "msgs_per_s": round(rate),
        "baseline": "one re alternation of the plain words and phrases over text.lower()",
        "baseline_msgs_per_s": round(baseline_rate),
        "speed_vs_baseline": round(rate / baseline_rate, 2),
        "p50_us": round(cuts[49], 1),
        "p99_us": round(cuts[98], 1),
        "target_msgs_per_s": LEXICON_TARGET,
        "meets_target": rate >= LEXICON_TARGET,
    }


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {"lexicon": lexicon, "pretrade": pretrade}


def main(names: list[str]) -> None:
    chosen = names or list(SECTIONS)
    results: dict[str, Any] = json.loads(OUT.read_text("utf-8")) if OUT.exists() else {}
    for name in chosen:
        figures = SECTIONS[name]()
        figures.update(
            python=sys.version.split()[0],
            machine=f"{platform.machine()} {platform.processor() or platform.system()}",
            measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        results[name] = figures
        print(f"controls/{name}: {json.dumps(figures)}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
