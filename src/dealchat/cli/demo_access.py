"""The demo's roles and attributes: an admin, a dealer, a compliance officer and two clients."""

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
    "compliance": "compliance",
    "alice": "client",
    "bob": "client",
}
# The demo desk is the 24-hour one, so the tour fills at any hour; a real client's desk (FX-LDN
# closes at 18:00 London) rejects orders outside its hours, as the controls tests show.
DEMO_ATTRIBUTES = {
    "dealer": {"desk": "FX-24H", "region": "EMEA"},
    "compliance": {"region": "EMEA"},
    "alice": {"desk": "FX-24H", "region": "EMEA", "client_book": "PB-ALPHA"},
    "bob": {"desk": "FX-24H", "region": "EMEA", "client_book": "PB-BRAVO"},
}


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
            dealer = session.scalar(select(User).where(User.username == "dealer"))
            if role == "client" and dealer is not None and user.owner_id != dealer.id:
                user.owner_id = dealer.id  # the relationship manager
                record(
                    session,
                    event=AuditEvent.USER_ATTRIBUTES_SET,
                    actor="demo",
                    subject=f"user:{user.id}",
                    payload={"owner_id": dealer.id},
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


def _holds(session: Session, user: User, role: str) -> bool:
    found = session.scalar(
        select(RoleAssignment.id)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(Role.name == role, RoleAssignment.user_id == user.id)
    )
    return found is not None
