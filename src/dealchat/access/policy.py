"""The authorisation decision, pure: deny by default, grants with attribute conditions.

A grant gives one right, optionally only on resources whose attributes match its conditions
(`{"desk": {"FX-LDN"}, "region": {"EMEA"}}`: every named attribute must have one of the listed
values; a resource that lacks a named attribute does not match). No I/O, no database, no clock:
`identity` resolves who the actor is and which grants its roles carry; this module decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dealchat.access.rights import CLIENT_RIGHTS, Right

Conditions = Mapping[str, frozenset[str]]
Resource = Mapping[str, str]
DENY_BY_DEFAULT = "deny-by-default"
SELF = "self"  # a condition value meaning the acting user's own id
CLIENTS_NEVER = "external-users-never-hold-internal-rights"


@dataclass(frozen=True)
class Grant:
    """One right, from one role, limited to resources matching `conditions` (empty: any)."""

    right: Right
    role: str
    conditions: Conditions = field(default_factory=dict)

    def matches(self, resource: Resource, me: str = "") -> bool:
        """Every condition met; the value `self` stands for the acting user (`{"rm": {"self"}}`:
        only the clients whose relationship manager the actor is)."""
        return all(
            resource.get(name) in allowed
            or (SELF in allowed and bool(me) and resource.get(name) == me)
            for name, allowed in self.conditions.items()
        )

    def describe(self) -> str:
        if not self.conditions:
            return f"role {self.role}: {self.right.value}"
        scope = ", ".join(
            f"{name} in {sorted(values)}" for name, values in sorted(self.conditions.items())
        )
        return f"role {self.role}: {self.right.value} where {scope}"


@dataclass(frozen=True)
class Actor:
    """Who acts, as far as authorisation cares: kind, grants and how strongly they logged in."""

    user_id: str
    username: str
    kind: str  # internal | external
    grants: tuple[Grant, ...] = ()
    factors: tuple[
        str, ...
    ] = ()  # e.g. ("password", "totp") or ("oidc",) or ("password", "network")

    @property
    def audit_name(self) -> str:
        return f"user:{self.user_id}"

    @property
    def internal(self) -> bool:
        return self.kind == "internal"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    right: Right
    rule: str  # the grant that allowed, or why it was denied

    def __bool__(self) -> bool:
        return self.allowed


def can(actor: Actor, right: Right, resource: Resource | None = None) -> Decision:
    """Allowed only when a grant of `right` matches `resource`; the first matching grant decides."""
    if not actor.internal and right not in CLIENT_RIGHTS:
        return Decision(False, right, CLIENTS_NEVER)
    for grant in actor.grants:
        if grant.right == right and grant.matches(resource or {}, actor.user_id):
            return Decision(True, right, grant.describe())
    return Decision(False, right, DENY_BY_DEFAULT)


def can_list(actor: Actor, right: Right) -> Decision:
    """A list filtered to what the actor may see: allowed when any grant of `right` is held
    (the list then shows only what each grant's conditions match)."""
    if not actor.internal and right not in CLIENT_RIGHTS:
        return Decision(False, right, CLIENTS_NEVER)
    held = [grant.describe() for grant in actor.grants if grant.right == right]
    if not held:
        return Decision(False, right, DENY_BY_DEFAULT)
    return Decision(True, right, "list: " + "; ".join(held))


def can_grant(actor: Actor, given: Grant) -> Decision:
    """Nobody grants a right they do not hold, nor wider than they hold it.

    `given` is covered by a held grant of the same right whose every condition is also a condition
    of `given` with a subset of its values (an unconditioned held grant covers everything).
    """
    for held in actor.grants:
        if held.right == given.right and _covers(held.conditions, given.conditions):
            return Decision(True, given.right, held.describe())
    return Decision(False, given.right, "cannot grant a right not held, or wider than held")


def _covers(held: Conditions, given: Conditions) -> bool:
    return all(name in given and given[name] <= allowed for name, allowed in held.items())
