""" "Forgot password" in a chat: the client linked to this chat gets a single-use, short-lived link
to the bank's reset page (identity/self_reset.py); the bot never asks for anything here. One live
link per chat, as for logins."""

from __future__ import annotations

import datetime as dt

from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Turn
from dealchat.identity import self_reset
from dealchat.nlu import Intent
from dealchat.nlu.language import language_of

PATH = "/reset/"


def answer(turn: Turn, intent: Intent) -> list[OutboundMessage]:
    token = self_reset.offer(
        turn.session,
        channel=turn.message.channel,
        external_id=turn.message.sender_id,
        policy=turn.desk.policy,
        now=turn.now,
        language=language_of(turn.message.text),
    )
    if token is None:
        return [OutboundMessage(replies.RESET_NOT_LINKED)]
    if isinstance(token, dt.datetime):  # one is live for this chat already: not another
        return [OutboundMessage(replies.LINK_SENT.format(until=token.strftime("%H:%M")))]
    minutes = int(turn.desk.policy.link_ttl.total_seconds() // 60)
    text = replies.RESET_LINK.format(minutes=minutes)
    return [OutboundMessage(text, link=f"{turn.desk.public_url}{PATH}{token}")]
