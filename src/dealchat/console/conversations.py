"""The desk: the live list of conversations a bank user may see, and a conversation's page, where
they read the transcript beside the client's open orders, reply, take over and hand back.

Access is the policy's: the list is filtered in SQL to the grants of `conversation:read` (an RM's
`{"rm": {"self"}}` shows their own clients); a conversation's page, stream and forms are decided
on its client's attributes, so a dealer without a grant for that client gets 403 and an
access-log entry. Opening a transcript is audited as a read (`conversations/viewing.py`).
Pages follow changes by Server-Sent Events (`live/`): the list refreshes, the transcript grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.api.deps import Platform, PlatformDep, SeqQuery, SessionDep, require, require_form
from dealchat.console.pages import csrf_for, render
from dealchat.conversations import handling, inbox, viewing
from dealchat.conversations.models import Conversation
from dealchat.db.session import reading, unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.live.hub import EVERYTHING
from dealchat.live.signals import conversation_topic
from dealchat.live.streams import event_stream, last_event_id

router = APIRouter(prefix="/console/conversations", include_in_schema=False)


def _conversation(db: Session, conversation_id: str) -> Conversation:
    found = db.get(Conversation, conversation_id) if len(conversation_id) <= 64 else None
    if found is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "No such conversation", http_status=404)
    return found


def client_resource(request: Request, db: Session) -> Mapping[str, str]:
    """What a conversation route decides on: the conversation's client's attributes (none for
    an unknown id: only an unconditioned grant passes, to the route's 404, so a reader without
    the right learns nothing about which ids exist)."""
    wanted = request.path_params["conversation_id"]
    conversation = db.get(Conversation, wanted) if len(wanted) <= 64 else None
    if conversation is None or conversation.client_id is None:
        return {}
    return inbox.resource_of(db.get(User, conversation.client_id))


Lister = Annotated[Actor, Depends(require(Right.CONVERSATION_READ, listing=True))]
Reader = Annotated[Actor, Depends(require(Right.CONVERSATION_READ, resource=client_resource))]
Replier = Annotated[
    Actor, Depends(require_form(Right.CONVERSATION_REPLY, resource=client_resource))
]
Taker = Annotated[
    Actor, Depends(require_form(Right.CONVERSATION_TAKEOVER, resource=client_resource))
]


@router.get("")
def page(request: Request, platform: PlatformDep, db: SessionDep, actor: Lister) -> Response:
    rows = inbox.rows(db, platform.desk, actor)
    return render("conversations.html", actor=actor, csrf=csrf_for(request), rows=rows)


@router.get("/list")
def listing(request: Request, platform: PlatformDep, db: SessionDep, actor: Lister) -> Response:
    """The list alone (the page replaces its table with it when something changes)."""
    rows = inbox.rows(db, platform.desk, actor)
    return render("conversations_list.html", actor=actor, csrf="", rows=rows)


@router.get("/events", response_class=StreamingResponse)
def list_events(request: Request, platform: PlatformDep, actor: Lister) -> StreamingResponse:
    """`changed` whenever any conversation changes; the page fetches its own list again."""
    latest: dict[str, Any] = {"at": _last_change(platform), "n": 0}

    def read(_after: int) -> list[tuple[int, str, dict[str, Any]]]:
        now = _last_change(platform)
        if now == latest["at"]:
            return []
        latest["at"], latest["n"] = now, latest["n"] + 1
        return [(latest["n"], "changed", {})]

    return event_stream(request, platform.hub, [EVERYTHING], read, after=0)


def _last_change(platform: Platform) -> object:
    with reading(platform.sessions) as session:
        return session.scalar(select(func.max(Conversation.updated_at)))


@router.get("/{conversation_id}")
def conversation_page(
    conversation_id: str,
    request: Request,
    platform: PlatformDep,
    db: SessionDep,
    actor: Reader,
) -> Response:
    conversation = _conversation(db, conversation_id)
    resource = client_resource(request, db)
    allowed_by = can(actor, Right.CONVERSATION_READ, resource).rule
    lines = viewing.open_for(
        db, platform.desk, actor, conversation, allowed_by=allowed_by, now=platform.desk.clock()
    )
    return render(
        "conversation.html",
        actor=actor,
        csrf=csrf_for(request),
        conversation=conversation,
        client=db.get(User, conversation.client_id) if conversation.client_id else None,
        lines=[line.as_dict() for line in lines],
        last=conversation.last_seq,
        business=viewing.business(db, conversation),
        handler=db.get(User, conversation.handled_by_id) if conversation.handled_by_id else None,
        me=actor.user_id,
        may_reply=bool(can(actor, Right.CONVERSATION_REPLY, resource)),
        may_take=bool(can(actor, Right.CONVERSATION_TAKEOVER, resource)),
    )


@router.get("/{conversation_id}/side")
def side(conversation_id: str, request: Request, db: SessionDep, actor: Reader) -> Response:
    """Who has the conversation and the client's open orders (refreshed as they change)."""
    conversation = _conversation(db, conversation_id)
    return render(
        "conversation_side.html",
        actor=actor,
        csrf=csrf_for(request),
        conversation=conversation,
        business=viewing.business(db, conversation),
        handler=db.get(User, conversation.handled_by_id) if conversation.handled_by_id else None,
        me=actor.user_id,
        may_take=bool(can(actor, Right.CONVERSATION_TAKEOVER, client_resource(request, db))),
    )


@router.get("/{conversation_id}/events", response_class=StreamingResponse)
def conversation_events(
    conversation_id: str,
    request: Request,
    platform: PlatformDep,
    actor: Reader,
    after: SeqQuery = None,
) -> StreamingResponse:
    """Each new message (`message`, id = its number), `state` when who has it changes, and
    `delivery` (first, then whenever it changes): which of the bank's latest messages are not
    delivered yet or failed, so the page marks those and unmarks the ones delivered since."""
    shown: dict[str, Any] = {"handler": _handler(platform, conversation_id), "undelivered": None}

    def read(position: int) -> list[tuple[int, str, dict[str, Any]]]:
        with reading(platform.sessions) as session:
            conversation = session.get_one(Conversation, conversation_id)
            found = viewing.lines(session, platform.desk, conversation, after=position)
            handler = conversation.handled_by_id
            undelivered = viewing.undelivered(session, conversation)
        if found:  # shown on the open page: read
            with unit_of_work(platform.sessions) as session:
                conversation = session.get_one(Conversation, conversation_id)
                inbox.mark_read(
                    session,
                    conversation=conversation,
                    user_id=actor.user_id,
                    now=platform.desk.clock(),
                )
        events = [(line.seq, "message", line.as_dict()) for line in found]
        if undelivered != shown["undelivered"]:
            shown["undelivered"] = undelivered
            latest, states = undelivered
            said = {"after": latest, "undelivered": {str(seq): s for seq, s in states.items()}}
            events.append((max([position, *(e[0] for e in events)]), "delivery", said))
        if handler != shown["handler"]:
            shown["handler"] = handler
            events.append((max([position, *(e[0] for e in events)]), "state", {}))
        return events

    return event_stream(
        request,
        platform.hub,
        [conversation_topic(conversation_id)],
        read,
        after=last_event_id(request, after),
    )


def _handler(platform: Platform, conversation_id: str) -> str | None:
    with reading(platform.sessions) as session:
        return session.get_one(Conversation, conversation_id).handled_by_id


def _back(conversation_id: str) -> RedirectResponse:
    return RedirectResponse(f"/console/conversations/{conversation_id}#end", status_code=303)


@router.post("/{conversation_id}/reply")
def reply(
    conversation_id: str,
    platform: PlatformDep,
    db: SessionDep,
    actor: Replier,
    text: Annotated[str, Form(max_length=handling.MAX_REPLY + 100)],
) -> Response:
    conversation = _conversation(db, conversation_id)
    handling.reply(db, platform.desk, conversation, db.get_one(User, actor.user_id), text)
    return _back(conversation_id)


@router.post("/{conversation_id}/take-over")
def take_over(
    conversation_id: str, platform: PlatformDep, db: SessionDep, actor: Taker
) -> Response:
    conversation = _conversation(db, conversation_id)
    user = db.get_one(User, actor.user_id)
    handling.take_over(db, platform.desk, conversation, user, platform.desk.clock())
    return _back(conversation_id)


@router.post("/{conversation_id}/hand-back")
def hand_back(
    conversation_id: str, platform: PlatformDep, db: SessionDep, actor: Taker
) -> Response:
    conversation = _conversation(db, conversation_id)
    user = db.get_one(User, actor.user_id)
    handling.hand_back(db, platform.desk, conversation, user, platform.desk.clock())
    return _back(conversation_id)
