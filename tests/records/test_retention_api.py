"""Legal holds over HTTP: legal_hold:manage only, a reason each way, audited under the user."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from tests.factories.access import give_role, token_for
from tests.factories.identity import make_user

URL = "/api/v1/retention/holds"


def test_holds_over_http(client: TestClient, platform: Platform) -> None:
    assert client.get(URL).status_code == 401
    dave = make_user(platform, "dave", kind="internal")
    no_right = {"Authorization": f"Bearer {token_for(platform, dave.id)}"}
    assert client.get(URL, headers=no_right).status_code == 403
    carol = make_user(platform, "carol", kind="internal")
    give_role(platform, "carol", "records-officer", [Right.LEGAL_HOLD_MANAGE])
    headers = {"Authorization": f"Bearer {token_for(platform, carol.id)}"}
    body = {"kind": "client", "target": "client-0001", "reason": "SEC subpoena 26-114"}
    made = client.post(URL, json=body, headers=headers)
    assert made.status_code == 201, made.text
    hold = made.json()
    assert (hold["kind"], hold["set_by"]) == ("client", f"user:{carol.id}")
    assert [h["id"] for h in client.get(URL, headers=headers).json()] == [hold["id"]]
    bad = client.post(URL, json={**body, "kind": "desk"}, headers=headers)
    assert bad.status_code == 422
    no_reason = client.post(f"{URL}/{hold['id']}/lift", json={"reason": ""}, headers=headers)
    assert no_reason.status_code == 422
    lifted = client.post(f"{URL}/{hold['id']}/lift", json={"reason": "closed"}, headers=headers)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["lift_reason"] == "closed"
    again = client.post(f"{URL}/{hold['id']}/lift", json={"reason": "closed"}, headers=headers)
    assert again.status_code == 404
    assert client.get(URL, headers=headers).json() == []
    with unit_of_work(platform.sessions) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.event.like("legalhold:%")).order_by(AuditEntry.seq)
        ).all()
    assert [(e.event, e.actor) for e in entries] == [
        ("legalhold:set", f"user:{carol.id}"),
        ("legalhold:lifted", f"user:{carol.id}"),
    ]
    assert json.loads(entries[0].payload)["reason"] == "SEC subpoena 26-114"
