"""Roles, grants and assignments in the database: granting limits, conditions, audit, actor_for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.access.policy import Actor, Grant, can
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity.models import User
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.factories.access import give_role
from tests.factories.identity import make_user


def _actor(platform: Platform, username: str) -> Actor:
    with unit_of_work(platform.sessions) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return access.actor_for(session, user, factors=("password", "totp"))


def _events(platform: Platform) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)))


def test_a_role_built_from_rights_with_conditions_decides_by_user_attributes(
    platform: Platform,
) -> None:
    make_user(platform, "dana", kind="internal")
    give_role(platform, "dana", "ldn-dealer", [Right.ORDER_APPROVE], {"desk": ["FX-LDN"]})
    dana = _actor(platform, "dana")
    assert dana.factors == ("password", "totp")
    assert can(dana, Right.ORDER_APPROVE, {"desk": "FX-LDN"})
    assert not can(dana, Right.ORDER_APPROVE, {"desk": "FX-NY"})
    assert not can(dana, Right.ORDER_CANCEL, {"desk": "FX-LDN"})
    events = _events(platform)
    assert {"role:created", "grant:added", "role:assigned"} <= set(events)
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def test_nobody_grants_what_they_do_not_hold_and_nothing_is_written(platform: Platform) -> None:
    make_user(platform, "sec", kind="internal")
    make_user(platform, "eve", kind="internal")
    give_role(platform, "sec", "security", [Right.ROLE_MANAGE, Right.AUDIT_READ])
    give_role(platform, "eve", "approver", [Right.ORDER_APPROVE])
    sec = _actor(platform, "sec")
    with unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=sec, name="reader")
        access.add_grant(session, actor=sec, role="reader", right=Right.AUDIT_READ)
    for attempt in (
        lambda s: access.add_grant(s, actor=sec, role="reader", right=Right.ORDER_APPROVE),
        lambda s: access.assign(s, actor=sec, role="approver", username="sec"),
        lambda s: access.delete_role(s, actor=sec, name="approver"),
    ):
        with pytest.raises(DealchatError) as raised, unit_of_work(platform.sessions) as session:
            attempt(session)
        assert raised.value.http_status == 403
    assert not can(_actor(platform, "sec"), Right.ORDER_APPROVE)
    with unit_of_work(platform.sessions) as session:
        access.assign(session, actor=sec, role="reader", username="eve")
    assert can(_actor(platform, "eve"), Right.AUDIT_READ)


def test_conditions_can_only_narrow_what_is_held(platform: Platform) -> None:
    make_user(platform, "head", kind="internal")
    give_role(
        platform, "head", "ldn-head", [Right.ROLE_MANAGE, Right.ORDER_APPROVE], {"desk": ["FX-LDN"]}
    )
    head = _actor(platform, "head")
    # ROLE_MANAGE itself is conditioned here, so role management on an unconditioned resource fails
    with pytest.raises(DealchatError), unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=head, name="ldn-junior")
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=system, name="ldn-junior")
    head = Actor(
        head.user_id,
        head.username,
        head.kind,
        (*head.grants, Grant(Right.ROLE_MANAGE, "x")),
    )
    with unit_of_work(platform.sessions) as session:
        access.add_grant(
            session,
            actor=head,
            role="ldn-junior",
            right=Right.ORDER_APPROVE,
            conditions={"desk": ["FX-LDN"], "region": ["EMEA"]},
        )
    with pytest.raises(DealchatError), unit_of_work(platform.sessions) as session:
        access.add_grant(session, actor=head, role="ldn-junior", right=Right.ORDER_APPROVE)


def test_external_users_cannot_be_given_internal_roles(platform: Platform) -> None:
    make_user(platform, "alice")
    with pytest.raises(DealchatError) as raised:
        give_role(platform, "alice", "approver", [Right.ORDER_APPROVE])
    assert "external" in raised.value.message
    give_role(platform, "alice", "client", [Right.DOCUMENT_UPLOAD])
    assert can(_actor(platform, "alice"), Right.DOCUMENT_UPLOAD)


def test_bad_input_is_refused_at_the_edge(platform: Platform) -> None:
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=system, name="r1")
    for conditions in ({"colour": ["red"]}, {"desk": []}, {"desk": ["bad value!"]}):
        with pytest.raises(DealchatError), unit_of_work(platform.sessions) as session:
            access.add_grant(
                session, actor=system, role="r1", right=Right.AUDIT_READ, conditions=conditions
            )
    with pytest.raises(DealchatError), unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=system, name="Bad Name")
    with pytest.raises(DealchatError):
        access.parse_right("order:launch")


def test_removing_grants_and_roles_is_audited_and_takes_effect(platform: Platform) -> None:
    make_user(platform, "dana", kind="internal")
    give_role(platform, "dana", "desk", [Right.ORDER_READ, Right.ORDER_CANCEL])
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        view = next(v for v in access.list_roles(session) if v.name == "desk")
        assert view.users == ["dana"]
        cancel = next(g for g in view.grants if g["right"] == "order:cancel")
        access.remove_grant(session, actor=system, grant_id=cancel["id"])
    assert not can(_actor(platform, "dana"), Right.ORDER_CANCEL)
    assert can(_actor(platform, "dana"), Right.ORDER_READ)
    with unit_of_work(platform.sessions) as session:
        access.unassign(session, actor=system, role="desk", username="dana")
        access.delete_role(session, actor=system, name="desk")
    assert _actor(platform, "dana").grants == ()
    assert {"grant:removed", "role:unassigned", "role:deleted"} <= set(_events(platform))
