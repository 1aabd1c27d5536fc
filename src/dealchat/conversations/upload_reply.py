"""`upload` in chat: a signed-in client or internal user who holds document:upload gets a
single-use link, bound to them and to this conversation, to the bank's upload page (the decision
is access-logged); anyone else the polite refusal. The flow's level gate has already sent an
unlinked or signed-out chat to log in."""

from __future__ import annotations

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Turn
from dealchat.identity.models import User
from dealchat.records import reports_links

LINK_PATH = "/documents/links/"
PURPOSE = "upload"


def answer(turn: Turn, user: User | None) -> list[OutboundMessage]:
    if user is None:
        return [OutboundMessage(text=replies.UPLOAD_REFUSED)]
    actor = access.actor_for(turn.session, user)
    decision = access.decide(
        turn.session,
        actor=actor,
        right=Right.DOCUMENT_UPLOAD,
        context=access.AccessContext("chat", operation="upload"),
    )
    if not decision.allowed:
        return [OutboundMessage(text=replies.UPLOAD_REFUSED)]
    ttl = turn.desk.policy.link_ttl
    token = reports_links.issue(
        turn.session,
        user_id=user.id,
        params={"conversation": turn.conversation.id, "user": user.id},
        ttl=ttl,
        now=turn.now,
        actor=actor.audit_name,
        purpose=PURPOSE,
    )
    text = replies.UPLOAD_LINK.format(minutes=int(ttl.total_seconds() // 60))
    return [OutboundMessage(text=text, link=f"{turn.desk.public_url}{LINK_PATH}{token}")]
