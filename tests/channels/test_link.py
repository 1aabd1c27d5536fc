"""The sealed edge-core link: JWS inside JWE under pinned X.509 certificates; tampered, foreign,
misdirected, stale and replayed envelopes are refused. And the core's `/internal/v1/inbound`
through the app: 401 with nothing recorded."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import secrets
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.interfaces import Rejected
from dealchat.channels.link import Identity, Link, load_or_create_identity
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.settings import Settings
from tests.conftest import Clock


@pytest.fixture
def identities(tmp_path: Path) -> dict[str, Identity]:
    return {
        "edge": load_or_create_identity(tmp_path / "edge", "edge"),
        "core": load_or_create_identity(tmp_path / "core", "core"),
        "stranger": load_or_create_identity(tmp_path / "stranger", "edge"),
    }


def _pair(ids: dict[str, Identity], clock: Clock) -> tuple[Link, Link]:
    edge = Link(ids["edge"], ids["core"].certificate, role="edge", peer_role="core", clock=clock)
    core = Link(ids["core"], ids["edge"].certificate, role="core", peer_role="edge", clock=clock)
    return edge, core


def test_keys_are_made_once_with_0600(tmp_path: Path) -> None:
    first = load_or_create_identity(tmp_path / "k", "edge")
    again = load_or_create_identity(tmp_path / "k", "edge")
    assert stat.S_IMODE((tmp_path / "k" / "edge.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o700
    assert first.certificate == again.certificate
    (tmp_path / "k" / "edge.key").chmod(0o644)
    with pytest.raises(PermissionError):
        load_or_create_identity(tmp_path / "k", "edge")


def test_a_sealed_envelope_opens_once(identities: dict[str, Identity], clock: Clock) -> None:
    edge, core = _pair(identities, clock)
    envelope = edge.seal({"messages": [{"text": "buy 1m eurusd"}]})
    assert "buy 1m" not in envelope
    assert envelope.count(".") == 4  # compact JWE
    assert core.open(envelope) == {"messages": [{"text": "buy 1m eurusd"}]}
    with pytest.raises(Rejected, match="replayed"):
        core.open(envelope)


def test_a_tampered_envelope_is_refused(identities: dict[str, Identity], clock: Clock) -> None:
    edge, core = _pair(identities, clock)
    parts = edge.seal({"n": 1}).split(".")
    flipped = parts[3][:-2] + ("A" if parts[3][-2] != "A" else "B") + parts[3][-1]
    with pytest.raises(Rejected, match="does not open"):
        core.open(".".join([*parts[:3], flipped, parts[4]]))


def test_a_stranger_signing_with_its_own_key_is_refused(
    identities: dict[str, Identity], clock: Clock
) -> None:
    _, core = _pair(identities, clock)
    stranger = Link(
        identities["stranger"], identities["core"].certificate, role="edge", peer_role="core"
    )
    with pytest.raises(Rejected):
        core.open(stranger.seal({"n": 1}))


def test_an_envelope_for_someone_else_is_refused(
    identities: dict[str, Identity], clock: Clock
) -> None:
    edge, _ = _pair(identities, clock)
    stranger_core = Link(
        identities["stranger"], identities["edge"].certificate, role="core", peer_role="edge"
    )
    with pytest.raises(Rejected, match="does not open"):
        stranger_core.open(edge.seal({"n": 1}))


def test_the_core_cannot_be_made_to_accept_its_own_words(
    identities: dict[str, Identity], clock: Clock
) -> None:
    edge, core = _pair(identities, clock)
    with pytest.raises(Rejected):
        edge.open(edge.seal({"n": 1}))  # sealed to the core, not openable by the edge
    with pytest.raises(Rejected):
        core.open(core.seal({"n": 1}))


def test_a_stale_envelope_is_refused(identities: dict[str, Identity], clock: Clock) -> None:
    edge, core = _pair(identities, clock)
    envelope = edge.seal({"n": 1})
    clock.advance(61)
    with pytest.raises(Rejected, match="stale"):
        core.open(envelope)


def test_an_expired_peer_certificate_is_refused(
    identities: dict[str, Identity], clock: Clock
) -> None:
    edge, core = _pair(identities, clock)
    envelope = edge.seal({"n": 1})
    clock.now = identities["edge"].certificate.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(Rejected, match="validity"):
        core.open(envelope)


def test_the_core_route_refuses_forgeries_and_replays(
    platform: Platform, identities: dict[str, Identity], tmp_path: Path, clock: Clock
) -> None:
    (tmp_path / "peer.crt").write_bytes(
        (tmp_path / "edge" / "edge.crt").read_bytes()
    )  # the core pins the edge's certificate
    settings = Settings(
        data_dir=platform.settings.data_dir,
        database_url=platform.settings.database_url,
        channels={"link": {"peer_certificate": str(tmp_path / "peer.crt")}},
    )
    core_platform = dataclasses.replace(platform, settings=settings)
    app = create_app(platform=core_platform, role="core")
    core_cert = load_or_create_identity(settings.keys_dir / "link", "core").certificate
    edge = Link(identities["edge"], core_cert, role="edge", peer_role="core", clock=clock)
    message = {
        "channel": "slack",
        "conversation_id": "T1:C1",
        "sender_id": "T1:U1",
        "message_id": "1700000000.000001",
        "text": "mkt eurusd 1m",
    }
    envelope = edge.seal({"messages": [message]})
    with TestClient(app) as client:
        tampered = envelope[:-3] + ("xyz" if not envelope.endswith("xyz") else "abc")
        assert client.post("/internal/v1/inbound", content=tampered).status_code == 401
        assert client.post("/channels/slack/webhook", content=b"{}").status_code == 404
        with unit_of_work(platform.sessions) as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert client.post("/internal/v1/inbound", content=envelope).status_code == 204
        assert client.post("/internal/v1/inbound", content=envelope).status_code == 401
    with unit_of_work(platform.sessions) as session:
        texts = session.scalars(select(Message.direction)).all()
    assert texts.count("in") == 1


def test_an_upload_sized_envelope_opens_within_the_links_limit(
    identities: dict[str, Identity], clock: Clock
) -> None:
    size = 1024 * 1024  # far past joserfc's 64 KiB default, which the link lifts explicitly
    edge = Link(
        identities["edge"],
        identities["core"].certificate,
        role="edge",
        peer_role="core",
        clock=clock,
        max_data_bytes=size,
    )
    core = Link(
        identities["core"],
        identities["edge"].certificate,
        role="core",
        peer_role="edge",
        clock=clock,
        max_data_bytes=size,
    )
    body = base64.b64encode(secrets.token_bytes(size)).decode("ascii")
    assert core.open(edge.seal({"body": body})) == {"body": body}
    small_edge, small_core = _pair(identities, clock)  # the default: a few KiB of data
    with pytest.raises(ValueError, match="over the link's limit"):
        small_edge.seal({"body": body})
    with pytest.raises(Rejected, match="size limit"):
        small_core.open(edge.seal({"body": body}))
