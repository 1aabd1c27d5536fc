"""API tokens, console session secrets, CSRF tokens and step-up proofs never reach a log line,
the audit log or the database in clear."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity.sessions import COOKIE, csrf_token
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.identity import make_user


def _database_text(platform: Platform) -> str:
    metadata = MetaData()
    metadata.reflect(platform.engine)
    with unit_of_work(platform.sessions) as session:
        return "\n".join(
            repr(tuple(row))
            for table in metadata.sorted_tables
            for row in session.execute(select(table))
        )


def test_no_bearer_secret_in_logs_or_at_rest(
    platform: Platform, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = make_user(platform, "root", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="admin", username="root")
    token = token_for(platform, root.id)
    seen = [token, root.password]
    with TestClient(
        create_app(platform=platform), base_url="https://testserver", follow_redirects=False
    ) as browser:
        bearer = {"Authorization": f"Bearer {token}"}
        issued = browser.post(
            "/api/v1/admin/tokens", json={"username": "root", "name": "x"}, headers=bearer
        )
        seen.append(issued.json()["token"])
        code = root.code(clock.now.timestamp())
        body = {"password": root.password, "otp": code, "content_hash": "d" * 64}
        seen += [
            code,
            browser.post("/api/v1/auth/stepup", json=body, headers=bearer).json()["proof"],
        ]
        clock.advance(30)
        page = browser.get("/console/login")
        found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert found
        code = root.code(clock.now.timestamp())
        form = {"username": "root", "password": root.password, "otp": code, "csrf_token": found[1]}
        assert browser.post("/console/login", data=form).status_code == 303
        cookie = browser.cookies[COOKIE]
        seen += [cookie, csrf_token(cookie), found[1]]  # (6-digit codes: 4a's test, no false hits)
        assert browser.get("/console/").status_code == 200
    logged = "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    stored = _database_text(platform)
    assert "access:allowed" in stored
    for secret in seen:
        assert secret not in logged
        assert secret not in stored
