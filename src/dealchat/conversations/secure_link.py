"""A single-use link to the bank's own login page, sent into the chat: to log in, or to step up
to two factors for exactly one ticket hash (a confirmation, a change to a working order). One live
link per chat: while one is live, the client is told until when instead of getting another."""

from __future__ import annotations

import datetime as dt

from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Turn
from dealchat.identity import service as identity
from dealchat.nlu.language import language_of


def secure_link(
    turn: Turn, template: str, *, purpose: str, ticket_hash: str | None, ref: str = ""
) -> list[OutboundMessage]:
    minutes = int(turn.desk.policy.link_ttl.total_seconds() // 60)
    text = template.format(minutes=minutes, ref=ref)
    token = identity.issue_link_once(
        turn.session,
        channel=turn.message.channel,
        external_id=turn.message.sender_id,
        purpose=purpose,
        ticket_hash=ticket_hash,
        policy=turn.desk.policy,
        now=turn.now,
        language=language_of(turn.message.text),
    )
    if isinstance(token, dt.datetime):  # one is live for this chat already: not another
        return [OutboundMessage(replies.LINK_SENT.format(until=token.strftime("%H:%M")))]
    return [OutboundMessage(text, link=f"{turn.desk.public_url}/link/{token}")]
