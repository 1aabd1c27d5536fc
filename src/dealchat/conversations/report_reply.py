"""`report` in chat: an internal user who holds audit:export gets a single-use link to this
conversation's audit report (the decision is access-logged); anyone else the polite refusal."""

from __future__ import annotations

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Turn
from dealchat.identity.models import User
from dealchat.records import reports_links

LINK_PATH = "/api/v1/audit/reports/links/"


def answer(turn: Turn, user: User | None) -> list[OutboundMessage]:
    if user is None or user.kind != "internal":
        return [OutboundMessage(text=replies.REPORT)]
    actor = access.actor_for(turn.session, user)
    decision = access.decide(
        turn.session,
        actor=actor,
        right=Right.AUDIT_EXPORT,
        context=access.AccessContext("chat", operation="report"),
    )
    if not decision.allowed:
        return [OutboundMessage(text=replies.REPORT)]
    ttl = turn.desk.policy.link_ttl
    token = reports_links.issue(
        turn.session,
        user_id=user.id,
        params={"conversation": turn.conversation.id},
        ttl=ttl,
        now=turn.now,
        actor=actor.audit_name,
        purpose="report",
    )
    text = replies.REPORT_LINK.format(minutes=int(ttl.total_seconds() // 60))
    return [OutboundMessage(text=text, link=f"{turn.desk.public_url}{LINK_PATH}{token}")]
