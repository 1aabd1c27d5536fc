"""`require(...)`: real tokens and sessions, real grants, deny by default, RFC 9470, access log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import Platform, SessionDep, public, require, spend_proof
from dealchat.app import create_app
from dealchat.records.events import AuditEvent
from dealchat.records.service import record
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.audit import entries
from tests.factories.identity import TestUser, make_user

probe = APIRouter(prefix="/probe")


@probe.get("/read")
def read(actor: Annotated[Actor, Depends(require(Right.AUDIT_READ))]) -> dict[str, str]:
    return {"user": actor.username}


@probe.get("/fresh")
def fresh(
    actor: Annotated[Actor, Depends(require(Right.AUDIT_READ, max_age=120))],
) -> dict[str, str]:
    return {"user": actor.username}


@probe.post("/approve")
def approve(
    body: dict[str, str],
    request: Request,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ORDER_APPROVE, level=2, max_age=600))],
) -> dict[str, str]:
    content = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    spend_proof(request, db, actor, content)
    record(db, event=AuditEvent.ORDER_PLACED, actor=actor.audit_name, subject="probe", payload=body)
    return {"approved": content}


def _desk_of(request: Request, db: object) -> dict[str, str]:
    return {"desk": request.path_params["desk"]}


@probe.get("/desk/{desk}")
def on_desk(
    desk: str,
    actor: Annotated[Actor, Depends(require(Right.ORDER_CANCEL, resource=_desk_of))],
) -> dict[str, str]:
    return {"desk": desk}


@probe.get("/open", dependencies=[Depends(public("a test route"))])
def open_route() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.fixture
def api(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform=platform)
    app.include_router(probe)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _log(platform: Platform, event: str) -> list[dict[str, object]]:
    return entries(platform, event)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_credentials_401_and_with_a_bad_token_invalid_token(
    api: TestClient, platform: Platform
) -> None:
    anonymous = api.get("/probe/read")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="dealchat"'
    forged = api.get("/probe/read", headers=_bearer("dct_" + "x" * 43))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    assert api.get("/probe/open").status_code == 200
    denials = _log(platform, "access:denied")
    assert [d["rule"] for d in denials] == ["no valid session or token"] * 2
    assert all(d["result"] == "denied" and d["source_ip"] for d in denials)


def test_deny_by_default_and_every_decision_is_in_the_access_log(
    api: TestClient, platform: Platform
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    token = token_for(platform, dana.id)
    assert api.get("/probe/read", headers=_bearer(token)).status_code == 403
    give_role(platform, "dana", "auditor", [Right.AUDIT_READ])
    allowed = api.get("/probe/read", headers=_bearer(token))
    assert allowed.status_code == 200
    assert allowed.json() == {"user": "dana"}
    denied, granted = _log(platform, "access:denied")[-1], _log(platform, "access:allowed")[-1]
    assert denied["rule"] == "deny-by-default"
    assert granted["rule"] == "role auditor: audit:read"
    for entry in (denied, granted):
        assert entry["user"] == "dana"
        assert entry["channel"] == "api"
        assert entry["factors"] == ["token"]
        assert entry["right"] == "audit:read"
        assert entry["operation"] == "GET /probe/read"
        assert str(entry["at"]).endswith("+00:00")
    assert token not in json.dumps(_log(platform, "access:allowed"))


def test_a_stale_login_gets_the_rfc_9470_challenge_and_step_up_refreshes_it(
    api: TestClient, platform: Platform, clock: Clock
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    give_role(platform, "dana", "auditor", [Right.AUDIT_READ])
    token = token_for(platform, dana.id)
    assert api.get("/probe/fresh", headers=_bearer(token)).status_code == 200
    clock.advance(121)
    stale = api.get("/probe/fresh", headers=_bearer(token))
    assert stale.status_code == 401
    challenge = stale.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:dealchat:level:1"' in challenge
    assert "max_age=120" in challenge
    assert "error_description=" in challenge
    assert stale.json()["code"] == "insufficient_user_authentication"
    _step_up(api, dana, token, clock, "0" * 64)
    assert api.get("/probe/fresh", headers=_bearer(token)).status_code == 200


def _step_up(api: TestClient, user: TestUser, token: str, clock: Clock, content: str) -> str:
    body = {
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "content_hash": content,
    }
    response = api.post("/api/v1/auth/stepup", json=body, headers=_bearer(token))
    assert response.status_code == 200, response.text
    clock.advance(30)
    proof: str = response.json()["proof"]
    return proof


def test_level_2_needs_a_single_use_proof_bound_to_the_content(
    api: TestClient, platform: Platform, clock: Clock
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    give_role(platform, "dana", "approver", [Right.ORDER_APPROVE])
    token = token_for(platform, dana.id)
    order = {"order": "ORD-1", "amount": "1000000"}
    content = hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()
    bare = api.post("/probe/approve", json=order, headers=_bearer(token))
    assert bare.status_code == 401
    assert 'acr_values="urn:dealchat:level:2"' in bare.headers["www-authenticate"]
    proof = _step_up(api, dana, token, clock, content)
    proved = {**_bearer(token), "DealChat-StepUp": proof}
    other = api.post("/probe/approve", json={**order, "amount": "9000000"}, headers=proved)
    assert other.status_code == 401, "a proof approves only the content it was made for"
    assert api.post("/probe/approve", json=order, headers=proved).json() == {"approved": content}
    again = api.post("/probe/approve", json=order, headers=proved)
    assert again.status_code == 401, "a proof works once"
    placed = _log(platform, "order:placed")
    assert len(placed) == 1, "the rejected attempts did no work"
    failed = [d for d in _log(platform, "access:allowed") if "outcome" in d]
    assert failed, "decisions of rolled-back requests are still recorded"


def test_a_wrong_step_up_is_refused_and_logged(
    api: TestClient, platform: Platform, clock: Clock
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    token = token_for(platform, dana.id)
    body = {"password": "wrong password!", "otp": "000000", "content_hash": "c" * 64}
    response = api.post("/api/v1/auth/stepup", json=body, headers=_bearer(token))
    assert response.status_code == 401
    assert _log(platform, "access:denied")[-1]["rule"] == "step-up failed"
    assert "wrong password!" not in json.dumps(_log(platform, "access:denied"))


def test_a_grant_with_conditions_passes_only_for_a_matching_resource(
    api: TestClient, platform: Platform
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    give_role(platform, "dana", "ldn", [Right.ORDER_CANCEL], {"desk": ["FX-LDN"]})
    headers = _bearer(token_for(platform, dana.id))
    assert api.get("/probe/desk/FX-LDN", headers=headers).status_code == 200
    assert api.get("/probe/desk/FX-NY", headers=headers).status_code == 403
    allowed = _log(platform, "access:allowed")[-1]
    assert allowed["rule"] == "role ldn: order:cancel where desk in ['FX-LDN']"


def test_past_the_limit_a_source_without_credentials_gets_429_recorded_once(
    api: TestClient, platform: Platform, clock: Clock
) -> None:
    limit = platform.throttle.limit
    forged = _bearer("dct_" + "x" * 43)
    answers = [api.get("/probe/read", headers=forged).status_code for _ in range(limit + 10)]
    assert answers == [401] * limit + [429] * 10
    refused = api.get("/probe/read")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.json()["code"] == "rate_limited"
    denials = [d["rule"] for d in _log(platform, "access:denied")]
    assert denials == ["no valid session or token"] * limit + [
        f"throttled: over {limit} unauthenticated requests"
    ]
    dana = make_user(platform, "dana", kind="internal")
    give_role(platform, "dana", "auditor", [Right.AUDIT_READ])
    signed_in = api.get("/probe/read", headers=_bearer(token_for(platform, dana.id)))
    assert signed_in.status_code == 200  # a valid token is never throttled by this
    clock.advance(60)
    assert api.get("/probe/read", headers=forged).status_code == 401  # a new window
