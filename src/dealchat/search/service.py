"""Run a search: narrow by metadata, stream the messages (never a list of all of them), open each
readable body in this process, match, keep the hits shown with the messages around them, count
the rest, and audit the search with its query and counts in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.access.service import AccessContext, decide
from dealchat.conversations.bodies import ERASED
from dealchat.conversations.models import Conversation, Message
from dealchat.records.envelope import ContentErasedError, Envelope
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.search.criteria import MAX_SHOWN, Criteria, check
from dealchat.search.matching import TextMatcher
from dealchat.search.scope import Readers, narrowed

_BATCH = 2000
_IN_CHUNK = 5000  # conversations per query when a filter names many


@dataclass
class Line:
    message_id: str
    at: dt.datetime
    direction: str
    sender: str
    text: str


@dataclass
class Hit:
    conversation_id: str
    channel: str
    client: str
    line: Line
    spans: tuple[tuple[int, int], ...]
    before: list[Line] = field(default_factory=list)
    after: list[Line] = field(default_factory=list)

    def marked(self, mark: tuple[str, str] = ("[[", "]]")) -> str:
        out, last = [], 0
        for start, end in self.spans:
            out += [self.line.text[last:start], mark[0], self.line.text[start:end], mark[1]]
            last = end
        return "".join([*out, self.line.text[last:]])

    def pieces(self) -> list[tuple[str, bool]]:
        """The hit's text as (piece, highlighted) pairs, for templates."""
        out, last = [], 0
        for start, end in self.spans:
            out += [(self.line.text[last:start], False), (self.line.text[start:end], True)]
            last = end
        return [*out, (self.line.text[last:], False)]


@dataclass
class SearchResult:
    criteria: Criteria
    asked: dict[str, Any]
    conversations: int
    messages: int
    hits: list[Hit]
    refused_conversations: int
    searched_at: dt.datetime
    audit_seq: int = 0  # the search:run entry that records it

    @property
    def truncated(self) -> bool:
        return self.messages > len(self.hits)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.asked,
            "searched_at": self.searched_at.isoformat(),
            "conversations": self.conversations,
            "messages": self.messages,
            "shown": len(self.hits),
            "refused_conversations": self.refused_conversations,
            "hits": [_hit_dict(hit) for hit in self.hits],
        }


def _line_dict(line: Line) -> dict[str, Any]:
    return {
        "message_id": line.message_id,
        "at": line.at.isoformat(),
        "direction": line.direction,
        "sender": line.sender,
        "text": line.text,
    }


def _hit_dict(hit: Hit) -> dict[str, Any]:
    return {
        "conversation_id": hit.conversation_id,
        "conversation_url": f"/console/conversations/{hit.conversation_id}",
        "channel": hit.channel,
        "client": hit.client,
        **_line_dict(hit.line),
        "spans": [list(span) for span in hit.spans],
        "highlighted": hit.marked(),
        "before": [_line_dict(line) for line in hit.before],
        "after": [_line_dict(line) for line in hit.after],
    }


def run(
    session: Session,
    *,
    envelope: Envelope,
    actor: Actor,
    criteria: Criteria,
    context: AccessContext,
    now: dt.datetime,
    most: int = MAX_SHOWN,
) -> SearchResult:
    """The search's hits and counts; SearchError or UnknownPersonError when it cannot run."""
    wanted, node = check(criteria, most=most)
    allowed = narrowed(session, wanted)
    matcher = None if node is None or wanted.text is None else TextMatcher(wanted.text, node)
    readers = Readers(session, actor)
    found = _Collector(wanted, readers)
    every = allowed if allowed is not None else set(session.scalars(select(Conversation.id)))
    opener = envelope.opener(session, scopes={f"conversation:{c}" for c in every})
    for row in _stream(session, wanted, allowed):
        readers.meet(row.conversation_id, row.channel, row.direction, row.sender_id)
        if not readers.may_read(row.conversation_id):
            continue
        line = _line(row, opener, readers)
        if line.text == ERASED:
            found.passed(row.conversation_id, row.channel, line)
            continue
        spans = () if matcher is None else matcher.spans(line.text)
        if spans is None:
            found.passed(row.conversation_id, row.channel, line)
        else:
            found.matched(row.conversation_id, row.channel, line, spans)
    result = found.result(wanted, now)
    _times(session, result.hits)
    _refusals(session, actor, context, readers)
    result.audit_seq = _audit(session, actor, result, now)
    return result


def _stream(session: Session, wanted: Criteria, allowed: set[str] | None) -> Iterator[Any]:
    """The candidate messages in conversation and time order, fetched in batches."""
    columns = (
        Message.id,
        Message.conversation_id,
        Conversation.channel,
        Message.direction,
        Message.sender_id,
        Message.body,
        Message.data_key_id,
        Message.text,
    )
    window = []
    if wanted.start is not None:
        window.append(Message.created_at >= wanted.start)
    if wanted.end is not None:
        window.append(Message.created_at < wanted.end)
    base = (
        select(*columns)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*window)
        .order_by(Message.conversation_id, Message.created_at, Message.direction, Message.position)
        .execution_options(yield_per=_BATCH)
    )
    if allowed is None:
        yield from session.execute(base)
        return
    ordered = sorted(allowed)
    for at in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[at : at + _IN_CHUNK]
        yield from session.execute(base.where(Message.conversation_id.in_(chunk)))


def _line(row: Any, opener: Callable[[str, bytes, str], str], readers: Readers) -> Line:
    if row.body is None or row.data_key_id is None:
        text = row.text or ""
    else:
        try:
            text = opener(row.data_key_id, row.body, f"message:{row.id}")
        except ContentErasedError:
            text = ERASED
    sender = readers.name(row.conversation_id) if row.direction == "in" else row.sender_id
    return Line(row.id, _UNKNOWN, row.direction, sender, text)


class _Collector:
    """Counts every hit, keeps the first `shown` with the messages around them."""

    def __init__(self, wanted: Criteria, readers: Readers) -> None:
        self.wanted, self.readers = wanted, readers
        self.hits: list[Hit] = []
        self.conversations: set[str] = set()
        self.messages = 0
        self.current = ""
        self.before: deque[Line] = deque(maxlen=wanted.context)
        self.waiting: list[Hit] = []  # shown hits still collecting their `after` lines

    def _enter(self, conversation_id: str) -> None:
        if conversation_id != self.current:
            self.current = conversation_id
            self.before.clear()
            self.waiting = []

    def _follow(self, line: Line) -> None:
        for hit in self.waiting:
            hit.after.append(line)
        self.waiting = [hit for hit in self.waiting if len(hit.after) < self.wanted.context]

    def passed(self, conversation_id: str, channel: str, line: Line) -> None:
        self._enter(conversation_id)
        self._follow(line)
        self.before.append(line)

    def matched(
        self, conversation_id: str, channel: str, line: Line, spans: tuple[tuple[int, int], ...]
    ) -> None:
        self._enter(conversation_id)
        self._follow(line)
        self.messages += 1
        self.conversations.add(conversation_id)
        if len(self.hits) < self.wanted.shown:
            client = self.readers.name(conversation_id)
            hit = Hit(conversation_id, channel, client, line, spans, list(self.before))
            self.hits.append(hit)
            if self.wanted.context:
                self.waiting.append(hit)
        self.before.append(line)

    def result(self, wanted: Criteria, now: dt.datetime) -> SearchResult:
        refused = sum(len(conversations) for conversations in self.readers.denied.values())
        return SearchResult(
            wanted,
            wanted.described(),
            len(self.conversations),
            self.messages,
            self.hits,
            refused,
            now,
        )


_UNKNOWN = dt.datetime.min.replace(tzinfo=dt.UTC)  # until `_times` fills it in


def _times(session: Session, hits: list[Hit]) -> None:
    """The times of the lines shown, read once the stream is done (times of every streamed
    message would cost more than the rest of the match)."""
    lines = {line.message_id: line for hit in hits for line in (*hit.before, hit.line, *hit.after)}
    ids = sorted(lines)
    for at in range(0, len(ids), _IN_CHUNK):
        chunk = ids[at : at + _IN_CHUNK]
        for message_id, created in session.execute(
            select(Message.id, Message.created_at).where(Message.id.in_(chunk))
        ):
            lines[message_id].at = created


def _refusals(session: Session, actor: Actor, context: AccessContext, readers: Readers) -> None:
    """One access-log denial per client whose conversations the reader may not read."""
    for client_id, conversations in sorted(readers.denied.items()):
        owner = readers.client(next(iter(conversations)))
        attributes = owner.attributes() if owner is not None else {}
        decide(
            session,
            actor=actor,
            right=Right.CONVERSATION_READ,
            context=AccessContext(
                channel=context.channel,
                source_ip=context.source_ip,
                operation=f"search: {len(conversations)} conversation(s) of client "
                f"{client_id or '(not linked)'}",
            ),
            resource=attributes,
        )


def _audit(session: Session, actor: Actor, result: SearchResult, now: dt.datetime) -> int:
    """The search in the log: counts in clear, the query sealed under the searcher's month."""
    entry = record_sealed(
        session,
        event=AuditEvent.SEARCH_RUN,
        actor=actor.audit_name,
        subject="search",
        payload={
            "fields": sorted(result.asked),
            "conversations": result.conversations,
            "messages": result.messages,
            "refused_conversations": result.refused_conversations,
        },
        person=actor.user_id,
        details={"query": result.asked},
        at=now,
    )
    return entry.seq
