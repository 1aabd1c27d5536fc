"""Chat words answered with a single-use link to a bank page, bound to the user and to this
conversation: `report` (an internal user holding audit:export gets the conversation's audit
report) and `upload` (a signed-in client or internal user holding document:upload gets the upload
page). The decision is access-logged; anyone else gets the word's polite refusal. The flow's level
gate has already sent an unlinked or signed-out chat to log in."""

from __future__ import annotations

from dataclasses import dataclass

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Turn
from dealchat.identity.models import User
from dealchat.records import reports_links


@dataclass(frozen=True)
class LinkOffer:
    right: Right
    purpose: str  # the link's purpose, and the operation the access decision names
    path: str
    refused: str
    offered: str  # the reply with the link, formatted with its lifetime in minutes
    internal_only: bool = False
    bind_user: bool = False  # the page also checks the user (not only the link's holder)


REPORT = LinkOffer(
    Right.AUDIT_EXPORT,
    "report",
    "/api/v1/audit/reports/links/",
    replies.REPORT,
    replies.REPORT_LINK,
    internal_only=True,
)
UPLOAD = LinkOffer(
    Right.DOCUMENT_UPLOAD,
    "upload",  # uploads.PURPOSE: the page spends links of this purpose only
    "/documents/links/",
    replies.UPLOAD_REFUSED,
    replies.UPLOAD_LINK,
    bind_user=True,
)


def answer(turn: Turn, user: User | None, offer: LinkOffer) -> list[OutboundMessage]:
    if user is None or (offer.internal_only and user.kind != "internal"):
        return [OutboundMessage(text=offer.refused)]
    actor = access.actor_for(turn.session, user)
    decision = access.decide(
        turn.session,
        actor=actor,
        right=offer.right,
        context=access.AccessContext("chat", operation=offer.purpose),
    )
    if not decision.allowed:
        return [OutboundMessage(text=offer.refused)]
    params = {"conversation": turn.conversation.id}
    if offer.bind_user:
        params["user"] = user.id
    ttl = turn.desk.policy.link_ttl
    token = reports_links.issue(
        turn.session,
        user_id=user.id,
        params=params,
        ttl=ttl,
        now=turn.now,
        actor=actor.audit_name,
        purpose=offer.purpose,
    )
    text = offer.offered.format(minutes=int(ttl.total_seconds() // 60))
    return [OutboundMessage(text=text, link=f"{turn.desk.public_url}{offer.path}{token}")]
