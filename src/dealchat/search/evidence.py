"""A search's result set as evidence: the audit report (`records/reports.py`) of its hits.

The export runs the search again for the exporter (same engine, same rights: conversations they
may not read give no hit and an access-log denial), keeping up to `MAX_EXPORTED` hits, and
reports the log's own entries for them: the `search:run` entry that records this search and its
query, then each hit's `message:received` / `message:sent` entry and those of the messages shown
around it, in log order, with their words opened for the reader. It renders like any audit report
(`conversations.reporting.render`: JSON, CSV, signed PDF, bundle); in the bundle each entry comes
with its inclusion proof, but no conversation is declared complete, since a search picks
messages out of them (`ReportQuery.selection`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.service import AccessContext
from dealchat.conversations.context import Desk
from dealchat.conversations.reporting import MESSAGE_EVENTS, texts_for
from dealchat.records import reports
from dealchat.records.chain import canonical_json
from dealchat.records.models import AuditEntry
from dealchat.search import service
from dealchat.search.criteria import MAX_EXPORTED, Criteria, SearchError

TITLE = "dealchat search export"
_IN_CHUNK = 500  # conversation subjects per query


def build(
    session: Session,
    desk: Desk,
    *,
    actor: Actor,
    criteria: Criteria,
    context: AccessContext,
) -> reports.Report:
    """The report of the search's hits for `actor`; SearchError when it matched more messages
    than an export holds (narrow it), UnknownPersonError for a client who is nobody."""
    now = desk.clock()
    wide = dataclasses.replace(criteria, shown=MAX_EXPORTED)
    result = service.run(
        session,
        envelope=desk.envelope,
        actor=actor,
        criteria=wide,
        context=context,
        now=now,
        most=MAX_EXPORTED,
    )
    if result.truncated:
        raise SearchError(
            f"the search matched {result.messages} messages; an export holds at most "
            f"{MAX_EXPORTED}: narrow the period, the client or the query"
        )
    shown = (line for hit in result.hits for line in (*hit.before, hit.line, *hit.after))
    wanted = {line.message_id for line in shown}
    conversations = {f"conversation:{hit.conversation_id}" for hit in result.hits}
    entries = list(_message_entries(session, conversations, wanted))
    own = session.get(AuditEntry, result.audit_seq)
    if own is not None:
        entries.append(own)
    query = reports.ReportQuery(
        start=result.criteria.start,
        end=result.criteria.end,
        subjects=None,
        filters={
            "search": canonical_json(result.asked),
            "matched": f"{result.messages} message(s) in {result.conversations} conversation(s)",
        },
        selection=True,
        title=TITLE,
    )
    return reports.of_entries(session, entries, query=query, now=now, texts=texts_for(desk))


def _message_entries(
    session: Session, conversations: set[str], wanted: set[str]
) -> Iterator[AuditEntry]:
    """The message entries of the conversations that name one of the `wanted` messages."""
    ordered = sorted(conversations)
    for at in range(0, len(ordered), _IN_CHUNK):
        rows = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.subject.in_(ordered[at : at + _IN_CHUNK]),
                AuditEntry.event.in_(MESSAGE_EVENTS),
            )
            .execution_options(yield_per=1000)
        )
        for entry in rows:
            if json.loads(entry.payload).get("message") in wanted:
                yield entry
