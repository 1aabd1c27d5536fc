"""The administrator's users pages (`user:manage`): list and search, a new user (who chooses a
password and an authenticator behind an enrolment link), the mobile number, unlock, end every
session, roles, and second factor resets that a second administrator approves.

Every change needs a login at most `FRESH` seconds old (as the admin API; a stale one is sent to
*Confirm it is you*), carries the session's CSRF token, and runs the domain services the API and
the CLI run, so their refusals (the last administrator, a right clients never hold, four eyes)
read the same here, on the page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.access.models import Role
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.admin_views import FRESH
from dealchat.api.deps import Platform, PlatformDep, SessionDep, require, require_form
from dealchat.console.acted import acted
from dealchat.console.pages import csrf_for, render
from dealchat.errors import DealchatError
from dealchat.identity import accounts, management

router = APIRouter(prefix="/console/users", include_in_schema=False)
Reader = Annotated[Actor, Depends(require(Right.USER_MANAGE))]
Changer = Annotated[Actor, Depends(require_form(Right.USER_MANAGE, max_age=FRESH))]
Name = Annotated[str, Form(min_length=1, max_length=64)]


def _door(platform: Platform) -> management.Door:
    return management.Door(
        platform.desk.sealer, platform.settings.auth.totp_issuer, platform.desk.policy
    )


@dataclass(frozen=True)
class Here:
    """The request a page answers: who asks, in which transaction, on which platform."""

    request: Request
    db: Session
    platform: Platform
    actor: Actor

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        return render(
            template,
            actor=self.actor,
            csrf=csrf_for(self.request),
            status=status,
            link_base=self.platform.settings.public_url,
            fresh=FRESH // 60,
            **context,
        )

    def role_names(self) -> list[str]:
        return list(self.db.scalars(select(Role.name).order_by(Role.name)))

    def pending(self) -> list[management.PendingReset]:
        now = self.platform.desk.clock()
        return management.pending_resets(self.db, reader=self.actor, now=now)


def _list_page(
    here: Here,
    *,
    q: str = "",
    notice: str = "",
    invitation: management.Invitation | None = None,
    status: int = 200,
) -> Response:
    return here.render(
        "users.html",
        status=status,
        users=management.users(here.db, search=q),
        q=q,
        roles=here.role_names(),
        resets=here.pending(),
        notice=notice,
        invitation=invitation,
    )


def _user_page(
    here: Here,
    username: str,
    *,
    notice: str = "",
    invitation: management.Invitation | None = None,
    status: int = 200,
) -> Response:
    row = management.user_row(here.db, username)
    return here.render(
        "user.html",
        status=status,
        row=row,
        roles=[name for name in here.role_names() if name not in row.roles],
        resets=[reset for reset in here.pending() if reset.username == row.username],
        notice=notice,
        invitation=invitation,
    )


def _reader(request: Request, db: SessionDep, platform: PlatformDep, actor: Reader) -> Here:
    return Here(request, db, platform, actor)


def _changer(request: Request, db: SessionDep, platform: PlatformDep, actor: Changer) -> Here:
    return Here(request, db, platform, actor)


Reading = Annotated[Here, Depends(_reader)]
Changing = Annotated[Here, Depends(_changer)]


@router.get("")
def users_page(here: Reading, q: str = "") -> Response:
    return _list_page(here, q=q[:64])


# What the page says after a change (`?done=KEY&role=NAME`): only these words, never text
# taken from the address.
DONE = {
    "phone": "Mobile number set; the user's sessions ended.",
    "unlocked": "Unlocked.",
    "ended": "Every session and API token of the user ended.",
    "assigned": "Role {role} assigned.",
    "removed": "Role {role} removed.",
    "requested": "Reset requested: a second administrator must approve it.",
    "approved": "Reset approved: the factor is removed and every session of the user ended.",
    "refused": "Reset refused.",
}


def _said(done: str, role: str) -> str:
    shown = role if access.ROLE_NAME.fullmatch(role) else "?"
    return DONE.get(done, "").format(role=shown)


@router.get("/{username}")
def user_page(username: str, here: Reading, done: str = "", role: str = "") -> Response:
    return _user_page(here, username[:64], notice=_said(done, role[:64]))


def _done(
    here: Here, action: Callable[[], Any], *, username: str, said: str, role: str = ""
) -> Response:
    """Back to the user's page saying what was done (`DONE[said]`), or why it was refused."""
    return acted(
        action,
        here.db,
        done=f"/console/users/{quote(username)}?done={said}&role={quote(role)}",
        refused=lambda error: _user_page(
            here, username, notice=error.message, status=error.http_status
        ),
    )


def _shown_once(
    here: Here, make: Callable[[], management.Invitation], page: Callable[..., Response]
) -> Response:
    """An action whose answer is an enrolment link, shown on the page once (not a redirect)."""
    try:
        invitation = make()
    except DealchatError as error:
        if error.http_status == 404:
            raise
        access.rollback_keeping_decisions(here.db)
        return page(notice=error.message, status=error.http_status)
    return page(invitation=invitation)


@router.post("")
def create_user(
    here: Changing,
    username: Name,
    kind: Annotated[str, Form(pattern=r"^(internal|external)$")],
    display_name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Shows the new user's enrolment link once (single use): the administrator hands it over."""

    def make() -> management.Invitation:
        invitation = management.create(
            here.db,
            actor=here.actor,
            door=_door(here.platform),
            username=username,
            kind=kind,
            display_name=display_name,
            now=here.platform.desk.clock(),
        )
        if role:
            access.assign(here.db, actor=here.actor, role=role, username=invitation.username)
        return invitation

    def page(**shown: Any) -> Response:
        return _list_page(
            here, q=username.strip().lower() if "invitation" in shown else "", **shown
        )

    return _shown_once(here, make, page)


@router.post("/{username}/enrolment-link")
def enrolment_link(username: str, here: Changing) -> Response:
    """For a user without an authenticator (new, or after an approved reset): shown once."""
    return _shown_once(
        here,
        lambda: management.enrolment_link(
            here.db,
            actor=here.actor,
            door=_door(here.platform),
            username=username,
            now=here.platform.desk.clock(),
        ),
        lambda **shown: _user_page(here, username, **shown),
    )


@router.post("/{username}/phone")
def set_phone(
    username: str, phone: Annotated[str, Form(min_length=1, max_length=32)], here: Changing
) -> Response:
    now, by = here.platform.desk.clock(), here.actor.audit_name
    return _done(
        here,
        lambda: accounts.set_phone(here.db, username=username, phone=phone, actor=by, now=now),
        username=username,
        said="phone",
    )


@router.post("/{username}/unlock")
def unlock(username: str, here: Changing) -> Response:
    now, by = here.platform.desk.clock(), here.actor.audit_name
    return _done(
        here,
        lambda: accounts.unlock(here.db, username=username, actor=by, now=now),
        username=username,
        said="unlocked",
    )


@router.post("/{username}/end-sessions")
def end_sessions(username: str, here: Changing) -> Response:
    now, by = here.platform.desk.clock(), here.actor.audit_name
    return _done(
        here,
        lambda: accounts.end_sessions(here.db, username=username, actor=by, now=now),
        username=username,
        said="ended",
    )


@router.post("/{username}/roles")
def assign_role(username: str, role: Name, here: Changing) -> Response:
    return _done(
        here,
        lambda: access.assign(here.db, actor=here.actor, role=role, username=username),
        username=username,
        said="assigned",
        role=role,
    )


@router.post("/{username}/roles/{role}/remove")
def remove_role(username: str, role: str, here: Changing) -> Response:
    role = role[:64]
    return _done(
        here,
        lambda: access.unassign(here.db, actor=here.actor, role=role, username=username),
        username=username,
        said="removed",
        role=role,
    )


@router.post("/{username}/factor-reset")
def request_reset(
    username: str,
    factor: Annotated[str, Form(pattern=r"^(totp|sms)$")],
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    here: Changing,
) -> Response:
    now = here.platform.desk.clock()
    return _done(
        here,
        lambda: management.request_reset(
            here.db, actor=here.actor, username=username, factor=factor, reason=reason, now=now
        ),
        username=username,
        said="requested",
    )


def _decide(here: Here, reset_id: str, *, approve: bool) -> Response:
    found = management.find_reset(here.db, reset_id)
    now = here.platform.desk.clock()
    return _done(
        here,
        lambda: management.decide_reset(
            here.db, actor=here.actor, reset_id=found.id, approve=approve, now=now
        ),
        username=found.username,
        said="approved" if approve else "refused",
    )


@router.post("/factor-resets/{reset_id}/approve")
def approve_reset(reset_id: str, here: Changing) -> Response:
    return _decide(here, reset_id, approve=True)


@router.post("/factor-resets/{reset_id}/refuse")
def refuse_reset(reset_id: str, here: Changing) -> Response:
    return _decide(here, reset_id, approve=False)
