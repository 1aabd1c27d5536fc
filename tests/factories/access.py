"""Roles and API tokens for tests, made through the real services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select

from dealchat.access import service as access
from dealchat.access.models import Role
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity import sessions
from dealchat.identity.models import User


def give_role(
    platform: Platform,
    username: str,
    role: str,
    rights: Iterable[Right],
    conditions: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Create `role` with `rights` (if new) and assign it to `username`, as the bootstrap actor."""
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        if session.scalar(select(Role.id).where(Role.name == role)) is None:
            access.create_role(session, actor=system, name=role)
            for right in rights:
                access.add_grant(
                    session, actor=system, role=role, right=right, conditions=conditions
                )
        access.assign(session, actor=system, role=role, username=username)


def token_for(platform: Platform, user_id: str, name: str = "test") -> str:
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        _, secret = sessions.issue_token(
            session,
            user=user,
            name=name,
            by="test",
            policy=platform.session_policy,
            now=platform.desk.clock(),
        )
    return secret
