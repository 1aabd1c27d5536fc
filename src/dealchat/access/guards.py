"""Two changes that would silently break an installation, refused whatever the door (console,
API, CLI): they are checked here, by the role and grant operations in `access.service`.

- The last administrator: a change that leaves no user holding both `user:manage` and
  `role:manage` (unconditioned, through a role) where one did before is refused, so nobody can
  take the last administrator's role away (their own included) and lock everyone out.
- The client role: a right an external user may never hold (`rights.CLIENT_RIGHTS` is what they
  may) is never added to the `client` role nor to any role an external user holds; clients could
  not use it (`policy.can` refuses them) and every later assignment of the role to a new client
  would fail.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.models import Role, RoleAssignment, RoleGrant
from dealchat.access.rights import CLIENT_RIGHTS, Right
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User

ADMIN_RIGHTS = (Right.USER_MANAGE, Right.ROLE_MANAGE)
CLIENT_ROLE = "client"
LAST_ADMIN = (
    "refused: this would leave no administrator (nobody else holds user:manage and role:manage);"
    " give another user an administrator role first"
)
CLIENT_ONLY = (
    "refused: {right} is a right an external user may never hold, so it cannot be added to"
    " role {role}, which clients hold (clients may hold only: {allowed})"
)


def administrators(
    session: Session,
    *,
    without_assignment: str | None = None,
    without_role: str | None = None,
    without_grant: str | None = None,
) -> set[str]:
    """The users holding every admin right unconditioned, as if the named assignment, role or
    grant were gone."""
    query = (
        select(RoleAssignment.user_id, RoleGrant.right)
        .join(RoleGrant, RoleGrant.role_id == RoleAssignment.role_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleGrant.right.in_([right.value for right in ADMIN_RIGHTS]),
            RoleGrant.conditions == "{}",
            User.kind == "internal",
        )
    )
    if without_assignment is not None:
        query = query.where(RoleAssignment.id != without_assignment)
    if without_role is not None:
        query = query.where(RoleAssignment.role_id != without_role)
    if without_grant is not None:
        query = query.where(RoleGrant.id != without_grant)
    held: dict[str, set[str]] = {}
    for user_id, right in session.execute(query):
        held.setdefault(user_id, set()).add(right)
    wanted = {right.value for right in ADMIN_RIGHTS}
    return {user_id for user_id, rights in held.items() if rights >= wanted}


def check_keeps_an_administrator(
    session: Session,
    *,
    assignment: str | None = None,
    role: str | None = None,
    grant: str | None = None,
) -> None:
    """Raise FORBIDDEN when taking away `assignment`, `role` or `grant` (ids) leaves no
    administrator where there was one."""
    if not administrators(session):
        return  # an installation still being built (no administrator yet): nothing to keep
    after = administrators(
        session, without_assignment=assignment, without_role=role, without_grant=grant
    )
    if not after:
        raise DealchatError(
            ErrorCode.CONFLICT, LAST_ADMIN, http_status=409, data={"rule": "last-administrator"}
        )


def client_roles(session: Session) -> set[str]:
    """The ids of the `client` role and of every role an external user holds."""
    held = session.scalars(
        select(RoleAssignment.role_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(User.kind != "internal")
    )
    named = session.scalars(select(Role.id).where(Role.name == CLIENT_ROLE))
    return set(held) | set(named)


def check_client_grant(session: Session, *, role: Role, right: Right) -> None:
    """Raise BAD_REQUEST when `right` is not one clients may hold and `role` is a client role."""
    if right in CLIENT_RIGHTS or role.id not in client_roles(session):
        return
    raise DealchatError(
        ErrorCode.BAD_REQUEST,
        CLIENT_ONLY.format(right=right.value, role=role.name, allowed=_names(CLIENT_RIGHTS)),
        data={"rule": "client-rights-only", "right": right.value, "role": role.name},
    )


def _names(rights: Iterable[Right]) -> str:
    return ", ".join(sorted(right.value for right in rights))
