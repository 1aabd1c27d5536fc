"""The demo's roles and attributes: an admin, a dealer, a relationship manager, a compliance
officer and two clients. The RM (rita, Rita Patel) manages both clients and sees only their
conversations; the dealer (Dan Lee) sees every conversation and, being nobody's RM, may approve
the clients' held orders (nobody approves their own client's order)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.access.models import Role, RoleAssignment
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity import sessions
from dealchat.identity.models import User
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

DEMO_ROLES = {
    "admin": "admin",
    "dealer": "dealer",
    "rita": "rm",
    "compliance": "compliance",
    "alice": "client",
    "bob": "client",
}
# The demo desk is the 24-hour one, so the tour fills at any hour; a real client's desk (FX-LDN
# closes at 18:00 London) rejects orders outside its hours, as the controls tests show.
DEMO_ATTRIBUTES = {
    "dealer": {"desk": "FX-24H", "region": "EMEA"},
    "rita": {"desk": "FX-24H", "region": "EMEA"},
    "compliance": {"region": "EMEA"},
    "alice": {"desk": "FX-24H", "region": "EMEA", "client_book": "PB-ALPHA"},
    "bob": {"desk": "FX-24H", "region": "EMEA", "client_book": "PB-BRAVO"},
}
# How the desk signs their messages to clients.
DEMO_NAMES = {"dealer": "Dan Lee", "rita": "Rita Patel", "compliance": "Chris Moss"}


def seed_access(built: Platform, known: dict[str, dict[str, str]]) -> None:
    """Default roles, each demo user's role and attributes, and (once) an API token for admin."""
    system = access.system_actor()
    with unit_of_work(built.sessions) as session:
        access.seed_defaults(session)
        for username, role in DEMO_ROLES.items():
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                continue
            if not _holds(session, user, role):
                access.assign(session, actor=system, role=role, username=username)
            wanted = DEMO_ATTRIBUTES.get(username, {})
            if any(getattr(user, name) != value for name, value in wanted.items()):
                access.set_attributes(session, actor=system, username=username, attributes=wanted)
            _name(session, user)
            manager = session.scalar(select(User).where(User.username == "rita"))
            if role == "client" and manager is not None and user.owner_id != manager.id:
                user.owner_id = manager.id  # the relationship manager
                record(
                    session,
                    event=AuditEvent.USER_ATTRIBUTES_SET,
                    actor="demo",
                    subject=f"user:{user.id}",
                    payload={"owner_id": manager.id},
                )
        admin = known.get("admin")
        admin_user = session.scalar(select(User).where(User.username == "admin"))
        if admin is not None and admin_user is not None and "api_token" not in admin:
            _, secret = sessions.issue_token(
                session,
                user=admin_user,
                name="demo",
                by="demo",
                policy=built.session_policy,
                now=built.desk.clock(),
            )
            admin["api_token"] = secret


def _name(session: Session, user: User) -> None:
    wanted = DEMO_NAMES.get(user.username)
    if wanted is not None and user.display_name != wanted:
        user.display_name = wanted
        record(
            session,
            event=AuditEvent.USER_ATTRIBUTES_SET,
            actor="demo",
            subject=f"user:{user.id}",
            payload={"display_name": wanted},
        )


def _holds(session: Session, user: User, role: str) -> bool:
    found = session.scalar(
        select(RoleAssignment.id)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(Role.name == role, RoleAssignment.user_id == user.id)
    )
    return found is not None
