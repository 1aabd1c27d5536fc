"""Every route declares its access, and for every seeded role the declared right decides.

A new route without `require(...)`, `signed_in()` or `public("why")` fails this test (README:
"Declaring access"). For each route and each default role, a member of that role calls it with an
API token: a role holding the right is never refused (401/403), a role without it gets 403.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.access.defaults import DEFAULT_ROLES
from dealchat.access.policy import Actor, can, can_list
from dealchat.api.deps import (
    PUBLIC_PATHS,
    Access,
    DeclaredRoute,
    Platform,
    declared_routes,
    is_console,
)
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from tests.factories.access import token_for
from tests.factories.identity import make_user

PROBE = "probe-0000000001"


def _routes(platform: Platform) -> list[DeclaredRoute]:
    return declared_routes(create_app(platform=platform).routes)


def _path(route: DeclaredRoute) -> str:
    return re.sub(r"\{[^}]+\}", PROBE, route.path)


def test_every_route_declares_its_access(platform: Platform) -> None:
    undeclared = []
    for route in _routes(platform):
        if route.operation and route.access is None:
            undeclared.append(f"{sorted(route.methods)} {route.path}")
        elif not route.operation and route.path not in PUBLIC_PATHS:
            undeclared.append(f"{route.path} (not a path operation: add it to deps.PUBLIC_PATHS)")
    assert not undeclared, (
        "routes without declared access; add Depends(require(Right.X)), Depends(signed_in()) or "
        f"dependencies=[Depends(public('why'))]: {undeclared}"
    )
    assert len(_routes(platform)) >= 15


@pytest.fixture
def members(platform: Platform) -> dict[str, tuple[Actor, dict[str, str]]]:
    """One user per default role (clients are external), each with an API token."""
    system, found = access.system_actor(), {}
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
    for role in DEFAULT_ROLES:
        kind = "external" if role == "client" else "internal"
        user = make_user(platform, f"m-{role}", kind=kind)
        with unit_of_work(platform.sessions) as session:
            access.assign(session, actor=system, role=role, username=user.username)
            row = session.get(User, user.id)
            assert row is not None
            actor = access.actor_for(session, row, factors=("token",))
        found[role] = (actor, {"Authorization": f"Bearer {token_for(platform, user.id)}"})
    return found


STREAMS = ("/events", "/stream")  # Server-Sent Events routes


def _may(actor: Actor, declared: Access, path: str) -> bool:
    if not actor.internal and is_console(path):
        return False  # the console is for bank staff, whatever the route needs
    if declared.right is None:
        return True
    if declared.listing:
        return bool(can_list(actor, declared.right))
    return bool(can(actor, declared.right))


def test_role_by_right_matrix_over_every_endpoint(
    client: TestClient, platform: Platform, members: dict[str, tuple[Actor, dict[str, str]]]
) -> None:
    checked = 0
    platform.throttle.limit = 10_000  # one anonymous request per route, all from one source
    for route in _routes(platform):
        declared = route.access
        if declared is None:
            continue  # a plain Starlette route, listed in PUBLIC_PATHS (checked above)
        for method in sorted(route.methods - {"HEAD"}):
            if declared.public is not None:
                status = client.request(method, _path(route), follow_redirects=False).status_code
                assert status not in (401, 403), f"public {method} {route.path} gave {status}"
                continue
            anonymous = client.request(method, _path(route), follow_redirects=False)
            to_login = anonymous.headers.get("location", "").startswith("/console/login")
            assert anonymous.status_code == 401 or to_login, f"{method} {route.path} anonymous"
            for role, (actor, headers) in members.items():
                if route.path.endswith(STREAMS) and _may(actor, declared, route.path):
                    continue  # an open stream never ends; tests/console/test_desk.py opens them
                response = client.request(
                    method, _path(route), headers=headers, follow_redirects=False
                )
                allowed = _may(actor, declared, route.path)
                where = f"{role} {method} {route.path} ({declared.right}) -> {response.status_code}"
                if not allowed:
                    assert response.status_code == 403, where
                elif declared.level >= 2:
                    assert response.status_code == 401, where
                    assert (
                        "insufficient_user_authentication" in response.headers["www-authenticate"]
                    )
                else:
                    assert response.status_code not in (401, 403), where
                checked += 1
    assert checked >= len(DEFAULT_ROLES) * 10, "the matrix covers the admin API at least"


def test_an_undeclared_route_is_caught(platform: Platform) -> None:
    app = create_app(platform=platform)

    @app.get("/sneaky")
    def sneaky() -> dict[str, str]:
        return {}

    missing = [r.path for r in declared_routes(app.routes) if r.operation and r.access is None]
    assert missing == ["/sneaky"]
