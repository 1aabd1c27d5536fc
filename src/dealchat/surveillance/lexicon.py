"""The lexicon matcher, pure: policies compiled once, then each message matched in one pass.

Compiling interns every term (a sequence of token patterns) across all policies and indexes them
by their first pattern. Matching folds and tokenises the message once, finds which patterns each
token matches (a dictionary look-up for exact words and prefix wildcards, remembered per token for
the rest), extends phrases from their first token, and evaluates only the rules one of whose terms
occurred. A policy's exclusions remove the term occurrences they overlap before its rules are
evaluated; its filters (channels, participants, directions) decide whether it looks at a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dealchat.surveillance import query
from dealchat.surveillance.query import And, Near, Node, Not, Term
from dealchat.surveillance.text import Token, tokens

Span = tuple[int, int]  # token positions, end exclusive
_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class Rule:
    id: str
    query: str
    node: Node
    severity: str


@dataclass(frozen=True)
class Filters:
    """Empty include lists mean everyone / every channel / both directions."""

    channels: frozenset[str] = frozenset()
    exclude_channels: frozenset[str] = frozenset()
    participants: frozenset[str] = frozenset()
    exclude_participants: frozenset[str] = frozenset()
    directions: frozenset[str] = frozenset()

    def admits(self, utterance: Utterance) -> bool:
        if self.channels and utterance.channel not in self.channels:
            return False
        if utterance.channel in self.exclude_channels:
            return False
        if self.directions and utterance.direction not in self.directions:
            return False
        if self.participants and not (self.participants & utterance.participants):
            return False
        return not (self.exclude_participants & utterance.participants)


@dataclass(frozen=True)
class Policy:
    name: str
    version: int
    rules: tuple[Rule, ...]
    category: str = "misconduct"
    exclusions: tuple[Term, ...] = ()
    filters: Filters = field(default_factory=Filters)


@dataclass(frozen=True)
class Utterance:
    """A message as the matcher sees it."""

    text: str
    channel: str = ""
    direction: str = "in"
    participants: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Hit:
    """One rule that matched, with the matched stretches of the original text (character spans)."""

    policy: str
    version: int
    category: str
    rule: str
    severity: str
    spans: tuple[tuple[int, int], ...]

    def highlighted(self, text: str, *, mark: tuple[str, str] = ("[[", "]]")) -> str:
        out, last = [], 0
        for start, end in self.spans:
            out += [text[last:start], mark[0], text[start:end], mark[1]]
            last = end
        out.append(text[last:])
        return "".join(out)


class _Patterns:
    """Which token patterns a folded token matches; remembered per token."""

    def __init__(self, patterns: list[str]) -> None:
        self.exact: dict[str, list[int]] = {}
        self.prefix: dict[int, dict[str, list[int]]] = {}
        self.regexes: list[tuple[re.Pattern[str], int]] = []
        for pid, pattern in enumerate(patterns):
            if "*" not in pattern and "?" not in pattern:
                self.exact.setdefault(pattern, []).append(pid)
            elif pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern:
                stem = pattern[:-1]
                self.prefix.setdefault(len(stem), {}).setdefault(stem, []).append(pid)
            else:
                body = "".join(
                    r"\w*" if c == "*" else r"\w" if c == "?" else re.escape(c) for c in pattern
                )
                self.regexes.append((re.compile(body), pid))
        self.seen: dict[str, tuple[int, ...]] = {}

    def of(self, token: str) -> tuple[int, ...]:
        found = self.seen.get(token)
        if found is not None:
            return found
        ids = list(self.exact.get(token, ()))
        for length, stems in self.prefix.items():
            if len(token) >= length:
                ids += stems.get(token[:length], ())
        ids += [pid for regex, pid in self.regexes if regex.fullmatch(token)]
        result = tuple(ids)
        if len(self.seen) >= _CACHE_LIMIT:
            self.seen.clear()
        self.seen[token] = result
        return result


@dataclass(frozen=True)
class _Compiled:
    policy: int
    rule: Rule
    node: Node


class Lexicon:
    """A set of policies compiled for matching. Build once, match many."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(policies)
        self._term_ids: dict[tuple[str, ...], int] = {}
        self._terms: list[tuple[int, ...]] = []
        self._pattern_ids: dict[str, int] = {}
        self._rules: list[_Compiled] = []
        self._rules_of_term: dict[int, list[int]] = {}
        self._exclusions: list[tuple[int, ...]] = []
        for index, policy in enumerate(self.policies):
            self._add_policy(index, policy)
        self._patterns = _Patterns(list(self._pattern_ids))
        self._starting: dict[int, list[int]] = {}
        for tid, pids in enumerate(self._terms):
            self._starting.setdefault(pids[0], []).append(tid)

    def _intern(self, term: Term) -> int:
        found = self._term_ids.get(term.patterns)
        if found is not None:
            return found
        pids = tuple(self._pattern_ids.setdefault(p, len(self._pattern_ids)) for p in term.patterns)
        self._terms.append(pids)
        self._term_ids[term.patterns] = len(self._terms) - 1
        return len(self._terms) - 1

    def _add_policy(self, index: int, policy: Policy) -> None:
        self._exclusions.append(tuple(self._intern(term) for term in policy.exclusions))
        for rule in policy.rules:
            self._rules.append(_Compiled(index, rule, rule.node))
            for term in query.terms_of(rule.node):
                rules = self._rules_of_term.setdefault(self._intern(term), [])
                if not rules or rules[-1] != len(self._rules) - 1:
                    rules.append(len(self._rules) - 1)

    @property
    def term_count(self) -> int:
        return len(self._terms)

    def match(self, utterance: Utterance) -> list[Hit]:
        found = tokens(utterance.text)
        occurrences = self._occurrences(found)
        if not occurrences:
            return []
        candidates = sorted(
            {rid for tid in occurrences for rid in self._rules_of_term.get(tid, ())}
        )
        hits: list[Hit] = []
        admitted: dict[int, dict[int, list[Span]] | None] = {}
        for rid in candidates:
            compiled = self._rules[rid]
            if compiled.policy not in admitted:
                admitted[compiled.policy] = self._for_policy(
                    compiled.policy, utterance, occurrences
                )
            seen = admitted[compiled.policy]
            if seen is None:
                continue
            spans = _evaluate(compiled.node, seen, self._term_ids)
            if spans is not None:
                hits.append(self._hit(compiled, spans, found))
        return hits

    def _occurrences(self, found: list[Token]) -> dict[int, list[Span]]:
        matched = [self._patterns.of(token.text) for token in found]
        out: dict[int, list[Span]] = {}
        for start, pids in enumerate(matched):
            for pid in pids:
                for tid in self._starting.get(pid, ()):
                    pattern = self._terms[tid]
                    end = start + len(pattern)
                    if end > len(matched):
                        continue
                    if all(pattern[k] in matched[start + k] for k in range(1, len(pattern))):
                        out.setdefault(tid, []).append((start, end))
        return out

    def _for_policy(
        self, index: int, utterance: Utterance, occurrences: dict[int, list[Span]]
    ) -> dict[int, list[Span]] | None:
        """The occurrences this policy sees (exclusions removed), or None if its filters say no."""
        if not self.policies[index].filters.admits(utterance):
            return None
        excluded = [span for tid in self._exclusions[index] for span in occurrences.get(tid, ())]
        if not excluded:
            return occurrences
        return {
            tid: kept
            for tid, spans in occurrences.items()
            if (kept := [s for s in spans if not any(_overlap(s, e) for e in excluded)])
        }

    def _hit(self, compiled: _Compiled, spans: list[Span], found: list[Token]) -> Hit:
        policy = self.policies[compiled.policy]
        chars = sorted({(found[start].start, found[end - 1].end) for start, end in spans})
        merged: list[tuple[int, int]] = []
        for start, end in chars:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return Hit(
            policy.name,
            policy.version,
            policy.category,
            compiled.rule.id,
            compiled.rule.severity,
            tuple(merged),
        )


def _overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _evaluate(
    node: Node, seen: dict[int, list[Span]], term_ids: dict[tuple[str, ...], int]
) -> list[Span] | None:
    """None when the node does not match; otherwise the token spans that made it match."""
    if isinstance(node, Term):
        return seen.get(term_ids[node.patterns]) or None
    if isinstance(node, Not):
        return [] if _evaluate(node.item, seen, term_ids) is None else None
    if isinstance(node, Near):
        return _near(node, seen, term_ids)
    results = [_evaluate(item, seen, term_ids) for item in node.items]
    if isinstance(node, And):
        if any(result is None for result in results):
            return None
        return [span for result in results if result for span in result]
    matched = [span for result in results if result is not None for span in result]
    return matched if any(result is not None for result in results) else None


def _near(
    node: Near, seen: dict[int, list[Span]], term_ids: dict[tuple[str, ...], int]
) -> list[Span] | None:
    left = _evaluate(node.left, seen, term_ids)
    right = _evaluate(node.right, seen, term_ids) if left else None
    if not left or not right:
        return None
    joined = [
        (min(a[0], b[0]), max(a[1], b[1]))
        for a in left
        for b in right
        if not _overlap(a, b) and max(b[0] - a[1], a[0] - b[1]) <= node.distance
    ]
    return sorted(set(joined)) or None
