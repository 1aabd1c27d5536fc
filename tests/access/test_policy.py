"""The pure authorisation decision: deny by default, attribute conditions, granting limits."""

from __future__ import annotations

from dealchat.access import Actor, Grant, Right, can, can_grant
from dealchat.access.policy import CLIENTS_NEVER, DENY_BY_DEFAULT

FX_LDN = {"desk": frozenset({"FX-LDN"})}


def _actor(*grants: Grant, kind: str = "internal") -> Actor:
    return Actor(user_id="u1", username="dana", kind=kind, grants=grants)


def test_nothing_is_allowed_without_a_grant() -> None:
    decision = can(_actor(), Right.ORDER_APPROVE)
    assert not decision
    assert decision.rule == DENY_BY_DEFAULT


def test_an_unconditioned_grant_allows_any_resource_and_names_its_role() -> None:
    decision = can(_actor(Grant(Right.ORDER_APPROVE, "dealer")), Right.ORDER_APPROVE, {"desk": "X"})
    assert decision.allowed
    assert decision.rule == "role dealer: order:approve"


def test_conditions_must_all_match_and_a_missing_attribute_does_not() -> None:
    grant = Grant(Right.ORDER_APPROVE, "dealer", {**FX_LDN, "region": frozenset({"EMEA"})})
    actor = _actor(grant)
    assert can(actor, Right.ORDER_APPROVE, {"desk": "FX-LDN", "region": "EMEA"})
    assert not can(actor, Right.ORDER_APPROVE, {"desk": "FX-NY", "region": "EMEA"})
    assert not can(actor, Right.ORDER_APPROVE, {"desk": "FX-LDN"})
    assert not can(actor, Right.ORDER_APPROVE)
    assert (
        "desk in ['FX-LDN']"
        in can(actor, Right.ORDER_APPROVE, {"desk": "FX-LDN", "region": "EMEA"}).rule
    )


def test_another_right_is_not_implied() -> None:
    assert not can(_actor(Grant(Right.AUDIT_READ, "compliance")), Right.AUDIT_EXPORT)


def test_external_users_never_hold_internal_rights_whatever_their_roles() -> None:
    client = _actor(
        Grant(Right.ORDER_APPROVE, "mistake"),
        Grant(Right.DOCUMENT_UPLOAD, "client"),
        kind="external",
    )
    assert can(client, Right.ORDER_APPROVE).rule == CLIENTS_NEVER
    assert can(client, Right.DOCUMENT_UPLOAD)


def test_nobody_grants_what_they_do_not_hold_or_wider_than_they_hold_it() -> None:
    admin = _actor(Grant(Right.ROLE_MANAGE, "admin"), Grant(Right.ORDER_APPROVE, "head", FX_LDN))
    assert can_grant(admin, Grant(Right.ORDER_APPROVE, "x", FX_LDN))
    narrower = {"desk": frozenset({"FX-LDN"}), "region": frozenset({"EMEA"})}
    assert can_grant(admin, Grant(Right.ORDER_APPROVE, "x", narrower))
    assert not can_grant(admin, Grant(Right.ORDER_APPROVE, "x"))
    assert not can_grant(
        admin, Grant(Right.ORDER_APPROVE, "x", {"desk": frozenset({"FX-LDN", "FX-NY"})})
    )
    assert not can_grant(admin, Grant(Right.AUDIT_EXPORT, "x"))
    assert can_grant(admin, Grant(Right.ROLE_MANAGE, "x", FX_LDN))
