"""Run a search: narrow by metadata, stream the messages (never a list of all of them), open each
readable body in this process, match, keep the hits shown with the messages around them, count
the rest, and audit the search with its query and counts in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.access.service import AccessContext, decide
from dealchat.conversations.bodies import ERASED
from dealchat.conversations.models import Conversation, Message
from dealchat.records.envelope import ContentErasedError, Envelope, Opener
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.service import settle
from dealchat.search.criteria import MAX_SHOWN, Criteria, check
from dealchat.search.matching import TextMatcher
from dealchat.search.scope import Readers, narrowed
from dealchat.search.split import SPLIT_FROM, SplitError, forked, split_url

log = logging.getLogger(__name__)

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
    split_from: int = SPLIT_FROM,
) -> SearchResult:
    """The search's hits and counts; SearchError or UnknownPersonError when it cannot run.

    From `split_from` conversations in scope (and a database a second process can open), the
    conversations are cut in two by id: this process scans the first half while a forked one
    scans the second on its own read-only snapshot. Each process decides the reader's right on
    the conversations it scans and opens only those it may read (`_part`); this one merges the
    two parts in conversation order, writes the access-log denials of both and audits the
    search, in the caller's transaction, exactly as one process would."""
    wanted, node = check(criteria, most=most)
    allowed = narrowed(session, wanted)
    matcher = None if node is None or wanted.text is None else TextMatcher(wanted.text, node)
    channels = _channels(session, allowed)
    scan = partial(
        _part,
        envelope=envelope,
        actor=actor,
        wanted=wanted,
        allowed=allowed,
        channels=channels,
        matcher=matcher,
    )
    ordered = sorted(channels)
    url = split_url(session) if len(ordered) >= max(split_from, 2) else None
    if url is None:
        parts = [scan(session, span=(None, None))]
    else:
        middle = ordered[len(ordered) // 2]
        with forked(url, partial(scan, span=(middle, None))) as second:
            first = scan(session, span=(None, middle))
            try:
                parts = [first, second.result()]
            except SplitError:
                log.exception("search: the second process failed; its half is scanned here")
                parts = [first, scan(session, span=(middle, None))]
    result = _merged(wanted, parts, now)
    _times(session, result.hits)
    _refusals(session, actor, context, parts)
    result.audit_seq = _audit(session, actor, result, now)
    return result


@dataclass
class _Part:
    """What the scan of one range of conversations found."""

    hits: list[Hit]
    messages: int
    conversations: int
    denied: dict[str, set[str]]  # client id (or "") -> conversations the reader may not read
    owners: dict[str, dict[str, Any]]  # a refused client's attributes, for the access log


Span = tuple[str | None, str | None]  # conversation ids from (inclusive), to (exclusive)


def _part(
    session: Session,
    *,
    envelope: Envelope,
    actor: Actor,
    wanted: Criteria,
    allowed: set[str] | None,
    channels: dict[str, str],
    matcher: TextMatcher | None,
    span: Span,
) -> _Part:
    """Scan the conversations in `span`: the reader's right decided here, bodies opened and
    matched here."""
    readers = Readers(session, actor)
    found = _Collector(wanted, readers)
    scopes = {f"conversation:{c}" for c in channels if _within(c, span)}
    opener = envelope.opener(session, scopes=scopes)
    _scan(session, wanted, allowed, span, channels, readers, opener, matcher, found)
    owners = {}
    for client_id, conversations in readers.denied.items():
        owner = readers.client(next(iter(conversations)))
        owners[client_id] = owner.attributes() if owner is not None else {}
    hits = found.hits
    return _Part(hits, found.messages, len(found.conversations), readers.denied, owners)


def _within(conversation_id: str, span: Span) -> bool:
    start, end = span
    return (start is None or conversation_id >= start) and (end is None or conversation_id < end)


def _merged(wanted: Criteria, parts: list[_Part], now: dt.datetime) -> SearchResult:
    """The parts, in conversation order, as one result: the first `shown` hits of all."""
    hits = [hit for part in parts for hit in part.hits][: wanted.shown]
    refused = sum(len(c) for part in parts for c in part.denied.values())
    messages = sum(part.messages for part in parts)
    conversations = sum(part.conversations for part in parts)
    return SearchResult(wanted, wanted.described(), conversations, messages, hits, refused, now)


def _channels(session: Session, allowed: set[str] | None) -> dict[str, str]:
    """The channel of every conversation the search may look at."""
    query = select(Conversation.id, Conversation.channel)
    if allowed is None:
        return dict(session.execute(query).all())
    out: dict[str, str] = {}
    ordered = sorted(allowed)
    for at in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[at : at + _IN_CHUNK]
        out.update(session.execute(query.where(Conversation.id.in_(chunk))).all())
    return out


def _channel(session: Session, channels: dict[str, str], conversation_id: str) -> str:
    """A conversation's channel; one begun since `_channels` read them is read now."""
    if conversation_id not in channels:
        channels[conversation_id] = session.execute(
            select(Conversation.channel).where(Conversation.id == conversation_id)
        ).scalar_one()
    return channels[conversation_id]


def _scan(  # noqa: PLR0917 (the search's state, passed down once)
    session: Session,
    wanted: Criteria,
    allowed: set[str] | None,
    span: Span,
    channels: dict[str, str],
    readers: Readers,
    opener: Opener,
    matcher: TextMatcher | None,
    found: _Collector,
) -> None:
    """Every candidate message, in conversation and time order: the reader's right is decided on
    a conversation's first message (and remembered), a readable body is opened here and matched
    on its text; only the lines a shown hit needs become `Line`s."""
    current, readable = "", False
    opened_key = ""
    open_under: Callable[[bytes, str], str] = _unopened
    spans_of = matcher.spans if matcher is not None else None
    keep = found.before.append
    for rows in _batches(session, wanted, allowed, span):
        for message_id, conversation_id, direction, sender_id, body, key_id, clear in rows:
            if conversation_id != current:
                current, channel = conversation_id, _channel(session, channels, conversation_id)
                readers.meet(conversation_id, channel, direction, sender_id)
                readable = readers.may_read(conversation_id)
                if readable:
                    found.enter(conversation_id, channel, readers.name(conversation_id))
                    keep = found.before.append
            if not readable:
                continue
            if body is None or key_id is None:
                text = clear or ""
            else:
                if key_id != opened_key:
                    opened_key, open_under = key_id, opener.under(key_id)
                try:
                    text = open_under(body, f"message:{message_id}")
                except ContentErasedError:
                    text = ERASED
            spans = None if text == ERASED else () if spans_of is None else spans_of(text)
            if spans is not None:
                found.matched((message_id, direction, sender_id, text), spans)
            elif found.waiting:
                found.passed((message_id, direction, sender_id, text))
            else:  # nothing shown needs this one as a Line (yet): the window keeps it as it is
                keep((message_id, direction, sender_id, text))


def _unopened(blob: bytes, context: str) -> str:
    raise AssertionError("no data key chosen yet")


def _batches(
    session: Session, wanted: Criteria, allowed: set[str] | None, span: Span
) -> Iterator[Any]:
    """The candidate messages in conversation and time order, as batches of plain rows (no ORM
    entities; the channel comes from `_channels`), never all of them at once."""
    table = Message.__table__
    columns = (
        table.c.id,
        table.c.conversation_id,
        table.c.direction,
        table.c.sender_id,
        table.c.body,
        table.c.data_key_id,
        table.c.text,
    )
    window = []
    if wanted.start is not None:
        window.append(table.c.created_at >= wanted.start)
    if wanted.end is not None:
        window.append(table.c.created_at < wanted.end)
    if span[0] is not None:
        window.append(table.c.conversation_id >= span[0])
    if span[1] is not None:
        window.append(table.c.conversation_id < span[1])
    base = (
        select(*columns)
        .where(*window)
        .order_by(table.c.conversation_id, table.c.created_at, table.c.direction, table.c.position)
        .execution_options(yield_per=_BATCH)
    )
    connection = session.connection()
    if allowed is None:
        yield from connection.execute(base).partitions()
        return
    ordered = sorted(c for c in allowed if _within(c, span))
    for at in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[at : at + _IN_CHUNK]
        yield from connection.execute(base.where(table.c.conversation_id.in_(chunk))).partitions()


_Row = tuple[str, str, str, str]  # message id, direction, sender id, text: not yet a Line


class _Collector:
    """Counts every hit, keeps the first `shown` with the messages around them. A message no
    shown hit needs stays a plain tuple in the `before` window; it becomes a `Line` (once, so
    every hit holding it holds the same line) when a hit takes it."""

    def __init__(self, wanted: Criteria, readers: Readers) -> None:
        self.wanted, self.readers = wanted, readers
        self.hits: list[Hit] = []
        self.conversations: set[str] = set()
        self.messages = 0
        self.current, self.channel, self.client = "", "", ""
        self.before: deque[Line | _Row] = deque(maxlen=wanted.context)
        self.waiting: list[Hit] = []  # shown hits still collecting their `after` lines

    def enter(self, conversation_id: str, channel: str, client: str) -> None:
        """The messages that follow are this conversation's (with this client's name)."""
        if conversation_id != self.current:
            self.current, self.channel, self.client = conversation_id, channel, client
            self.before = deque(maxlen=self.wanted.context)
            self.waiting = []

    def _line(self, row: _Row) -> Line:
        message_id, direction, sender_id, text = row
        sender = self.client if direction == "in" else sender_id
        return Line(message_id, _UNKNOWN, direction, sender, text)

    def _follow(self, line: Line) -> None:
        for hit in self.waiting:
            hit.after.append(line)
        self.waiting = [hit for hit in self.waiting if len(hit.after) < self.wanted.context]

    def passed(self, row: _Row) -> None:
        """A message that did not match: kept in the window, and after the hits waiting."""
        if self.waiting:
            line = self._line(row)
            self._follow(line)
            self.before.append(line)
        else:
            self.before.append(row)

    def _lines_before(self) -> list[Line]:
        lines = []
        for index, kept in enumerate(self.before):
            if isinstance(kept, Line):
                lines.append(kept)
            else:
                lines.append(self._line(kept))
                self.before[index] = lines[-1]
        return lines

    def matched(self, row: _Row, spans: tuple[tuple[int, int], ...]) -> None:
        line = self._line(row)
        self._follow(line)
        self.messages += 1
        self.conversations.add(self.current)
        if len(self.hits) < self.wanted.shown:
            hit = Hit(self.current, self.channel, self.client, line, spans, self._lines_before())
            self.hits.append(hit)
            if self.wanted.context:
                self.waiting.append(hit)
        self.before.append(line)


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


def _refusals(session: Session, actor: Actor, context: AccessContext, parts: list[_Part]) -> None:
    """One access-log denial per client whose conversations the reader may not read."""
    denied: dict[str, set[str]] = {}
    owners: dict[str, dict[str, Any]] = {}
    for part in parts:
        for client_id, conversations in part.denied.items():
            denied.setdefault(client_id, set()).update(conversations)
            owners.setdefault(client_id, part.owners[client_id])
    for client_id, conversations in sorted(denied.items()):
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
            resource=owners[client_id],
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
    return settle(session)[id(entry)].seq  # placed now: the search's number is its name
