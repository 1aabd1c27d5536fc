"""The client-facing link pages through the edge, as two real processes with a real clamd: a
client logs in, uploads a document (stored, confirmed in chat), is refused an oversize one at the
edge (413, nothing relayed, the link still unused), and fetches an order receipt once. The edge
relays nothing off its allow-list; the core refuses a sealed request for anything else."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.app import build_platform
from dealchat.db.session import unit_of_work
from dealchat.documents.models import Document
from dealchat.settings import Settings
from tests.channels.slack import wire
from tests.channels.split import Split, running_split
from tests.documents.clamd import Clamd
from tests.factories.identity import TestUser, make_user

LIMIT = 2 * 1024 * 1024  # over joserfc's default 64 KiB envelope, so the link's own caps count
CLIENT = "203.0.113.7"  # what the edge's trusted proxy says the client is
_TS = itertools.count(1)


@pytest.fixture
def pages(database_url: str, tmp_path: Path, clamd: Clamd) -> Iterator[Split]:
    core = {"DEALCHAT_DOCUMENTS__CLAMD": clamd.url}
    limits = {"DEALCHAT_DOCUMENTS__MAX_UPLOAD_BYTES": str(LIMIT)}
    edge = {"DEALCHAT_AUTH__TRUSTED_PROXIES": '["127.0.0.1"]'}
    with running_split(
        database_url, tmp_path, core_extra={**core, **limits}, edge_extra={**edge, **limits}
    ) as split:
        yield split


@pytest.fixture
def alice(pages: Split, database_url: str) -> TestUser:
    """A client in the core's database (the core made its keys; this process shares them)."""
    settings = Settings(data_dir=pages.core_dir, database_url=database_url)
    platform = build_platform(settings)
    try:
        user = make_user(platform, "alice")
        with unit_of_work(platform.sessions) as session:
            access.seed_defaults(session)
            access.assign(session, actor=access.system_actor(), role="client", username="alice")
    finally:
        platform.engine.dispose()
    return user


def _say(split: Split, text: str, pattern: str) -> str:
    """Say `text` in Slack through the edge; the first new reply matching `pattern`."""
    seen = len(split.slack_api.calls)
    body = wire.fixture("message_im", text=text, ts=f"1764000001.{next(_TS):06d}")
    answer = httpx.post(
        f"{split.edge_url}/channels/slack/webhook",
        content=body,
        headers=wire.headers(body, int(time.time())),
    )
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for call in split.slack_api.calls[seen:]:
            found = re.search(pattern, call.json()["text"])
            if found:
                return found.group(0)
        time.sleep(0.1)
    texts = [call.json()["text"] for call in split.slack_api.calls[seen:]]
    pytest.fail(f"no reply to {text!r} matching {pattern!r}: {texts}")


def _log_in(url: str, user: TestUser, *, at: float) -> None:
    assert url.startswith("http://127.0.0.1")
    assert httpx.get(url).status_code == 200
    form = {"username": user.username, "password": user.password, "otp": user.code(at)}
    answer = httpx.post(url, data=form)
    assert answer.status_code == 200, answer.text


def _upload_form(url: str) -> tuple[str, str]:
    """The form through the edge: its CSRF token and the `__Host-` cookie the core set."""
    form = httpx.get(url)
    assert form.status_code == 200, form.text
    cookie = form.headers["set-cookie"]
    assert cookie.startswith("__Host-dealchat-upload=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token, form.text
    return token.group(1), cookie.split(";", 1)[0]


def _relays(split: Split) -> int:
    """How many relayed requests the core has answered (its access log)."""
    lines = split.core_log.read_text().splitlines()
    return sum('"path": "/internal/v1/relay"' in line for line in lines)


def _access_lines(split: Split, path: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in split.core_log.read_text().splitlines() if "{" in line]
    return [line for line in lines if line.get("path") == path]


def test_a_client_uploads_through_the_edge(
    pages: Split, alice: TestUser, database_url: str
) -> None:
    _log_in(_say(pages, "login", r"http://\S+/link/\S+"), alice, at=time.time())
    url = _say(pages, "upload", r"http://\S+/documents/links/\S+")
    assert url.startswith(pages.edge_url)
    csrf, cookie = _upload_form(url)
    data = b"date,amount\n" + b"2026-11-24,1000000\n" * (LIMIT // 20)
    answer = httpx.post(
        url,
        data={"csrf_token": csrf},
        files={"file": ("trades.csv", data, "text/csv")},
        headers={"cookie": cookie, "x-forwarded-for": f"198.51.100.9, {CLIENT}"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert "Received DOC-" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    _say(pages, "status", r".")  # anything, so the confirmation below has surely been sent
    confirmed = [c.json()["text"] for c in pages.slack_api.calls if "Received" in c.json()["text"]]
    [confirmation] = confirmed
    assert "trades.csv" in confirmation
    settings = Settings(data_dir=pages.core_dir, database_url=database_url)
    platform = build_platform(settings)
    try:
        with unit_of_work(platform.sessions) as session:
            [document] = session.scalars(select(Document)).all()
            assert document.size == len(data)
    finally:
        platform.engine.dispose()
    # the client's address, as the edge's trusted proxy gave it, in the core's access log
    logged = _access_lines(pages, "/documents/links/<redacted>")
    assert [line["client"] for line in logged if line["method"] == "POST"] == [CLIENT]
    assert (
        httpx.post(url, files={"file": ("a.csv", b"a,b\n")}, headers={"cookie": cookie}).status_code
        == 404
    )


def test_an_oversize_upload_is_refused_at_the_edge(pages: Split, alice: TestUser) -> None:
    _log_in(_say(pages, "login", r"http://\S+/link/\S+"), alice, at=time.time())
    url = _say(pages, "upload", r"http://\S+/documents/links/\S+")
    csrf, cookie = _upload_form(url)
    time.sleep(0.5)  # the core logs a request just after answering it
    before = _relays(pages)
    declared = httpx.post(
        url,
        data={"csrf_token": csrf},
        # past the body's bound (the limit and 16 KiB of form framing): the edge's own check;
        # a file just over the limit within the framing margin is the core's, as on --role all
        files={"file": ("big.csv", b"a,b\n" * ((LIMIT + 32 * 1024) // 4), "text/csv")},
        headers={"cookie": cookie},
    )
    assert declared.status_code == 413
    assert "larger than the limit of 2 MiB" in declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b"--x\r\nContent-Disposition: form-data; name=file; filename=big.csv\r\n\r\n"
        for _ in range(LIMIT // 65536 + 2):
            yield b"a,b\n" * 16384

    streamed = httpx.post(
        url,
        content=chunks(),
        headers={"cookie": cookie, "content-type": "multipart/form-data; boundary=x"},
    )
    assert streamed.status_code == 413
    time.sleep(0.5)
    assert _relays(pages) == before  # nothing reached the core
    posts = _access_lines(pages, "/documents/links/<redacted>")
    assert [line for line in posts if line["method"] == "POST"] == []
    assert httpx.get(url).status_code == 200  # so the link is still unused


def test_a_receipt_is_fetched_once_through_the_edge(pages: Split, alice: TestUser) -> None:
    _log_in(_say(pages, "login", r"http://\S+/link/\S+"), alice, at=time.time())
    _say(pages, "buy 1m eurusd 1W 360t", r"TO CONFIRM")
    _log_in(_say(pages, "c", r"http://\S+/link/\S+"), alice, at=time.time() + 30)
    url = _say(pages, "c", r"http://\S+/api/v1/receipts/links/\S+")
    assert url.startswith(pages.edge_url)
    receipt = httpx.get(url)
    assert receipt.status_code == 200, receipt.text
    assert receipt.headers["content-type"] == "application/json"
    assert receipt.headers["x-content-type-options"] == "nosniff"
    assert receipt.headers["cache-control"] == "no-store"
    assert receipt.json()["order"]["ref"].startswith("ORD-")
    assert httpx.get(url).status_code == 404


def test_the_edge_relays_nothing_else(pages: Split) -> None:
    for path in (
        "/api/v1/audit/reports",
        "/api/v1/audit/reports/links/" + "a" * 43,
        "/console/",
        "/api/v1/webchat/messages",
        "/static/webchat/webchat.js",
        "/api/v1/receipts/links/short",
        "/documents/links/..",
        "/internal/v1/relay",
    ):
        assert httpx.get(f"{pages.edge_url}{path}").status_code in (404, 405), path
    assert httpx.post(f"{pages.edge_url}/api/v1/receipts/links/{'a' * 43}").status_code == 405
    assert httpx.post(f"{pages.edge_url}/link/{'a' * 43}", content=b"x" * 20_000).status_code == 413
    # and should an edge ever ask, the core relays only the same list
    for method, path in (
        ("GET", "/console/"),
        ("GET", "/api/v1/audit/reports"),
        ("PUT", "/link/" + "a" * 43),
    ):
        sealed = pages.edge_link.seal({"method": method, "path": path, "body": ""})
        assert httpx.post(f"{pages.core_url}/internal/v1/relay", content=sealed).status_code == 403
