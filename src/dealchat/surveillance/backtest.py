"""Preview a lexicon policy over stored messages before it is switched on: nothing is written.

Runs the policy (a YAML proposal not yet stored, or a stored version in any state) over the
messages recorded since a date, and says how many it would have flagged, per rule, with samples
highlighted as a reviewer would see them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.surveillance import guard, store
from dealchat.surveillance.alerts import mark
from dealchat.surveillance.interfaces import MessageSource
from dealchat.surveillance.lexicon import Lexicon, Utterance

_PAGE = 500


@dataclass
class Preview:
    policy: str
    version: int
    scanned: int = 0
    flagged: int = 0  # messages with at least one hit
    per_rule: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "version": self.version,
            "scanned": self.scanned,
            "flagged": self.flagged,
            "per_rule": dict(sorted(self.per_rule.items())),
            "samples": self.samples,
        }


def backtest(
    session: Session,
    *,
    actor: Actor,
    messages: MessageSource,
    since: dt.datetime,
    source: str | None = None,
    name: str | None = None,
    version: int | None = None,
    samples: int = 20,
    limit: int = 1_000_000,
) -> Preview:
    guard.check_any(actor, Right.LEXICON_EDIT, Right.RULE_APPROVE)
    if source is None:
        if name is None or version is None:
            raise guard.bad("give a policy (YAML) or a stored name and version")
        source = store.version_of(session, name=name, version=version).source
    policy = store.load_checked(source, version=version or None)
    lexicon = Lexicon([policy])
    preview = Preview(policy.name, policy.version)
    after: str | None = None
    while preview.scanned < limit:
        page = messages.page(session, since=since, after_id=after, limit=_PAGE)
        if not page:
            break
        for message in page:
            preview.scanned += 1
            hits = lexicon.match(
                Utterance(message.text, message.channel, message.direction, message.participants)
            )
            if not hits:
                continue
            preview.flagged += 1
            preview.per_rule.update(hit.rule for hit in hits)
            if len(preview.samples) < samples:
                spans = [list(span) for hit in hits for span in hit.spans]
                preview.samples.append(
                    {
                        "message": message.id,
                        "conversation": message.conversation_id,
                        "at": message.created_at.isoformat(),
                        "rules": [hit.rule for hit in hits],
                        "highlighted": mark(message.text, _merged(spans)),
                    }
                )
        after = page[-1].id
    return preview


def _merged(spans: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out
