"""The audit bundle: exported through the API and the CLI, verified offline, and every kind of
tampering (record, proof, checkpoint, a dropped or reordered record, another key) is named."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.records import receipts
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.keys import load_keyring
from dealchat.records.receipts_verify import ProofError
from dealchat.records.reports_bundle import BUNDLE_PREFIX, verify_bundle
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.chat import Chat
from tests.factories.identity import make_user


@pytest.fixture
def bundle(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """Two chats, then the bundle of the first conversation, fetched by compliance."""
    chat = Chat(client, clock, conversation="conv-bundle-1", sender="sender-bundle-1")
    for text in ("hello", "mkt eurusd 1m", "help", "what is eurusd"):
        chat.say(text)
    Chat(client, clock, conversation="conv-bundle-2", sender="sender-bundle-2").say("hello")
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.external_id == "conv-bundle-1")
        ).one()
    carol = make_user(platform, "carol", kind="internal")
    give_role(platform, "carol", "compliance", [Right.AUDIT_EXPORT])
    response = client.get(
        "/api/v1/audit/reports",
        params={"conversation": conversation.id, "format": "bundle"},
        headers={"Authorization": f"Bearer {token_for(platform, carol.id)}"},
    )
    assert response.status_code == 200, response.text
    assert "bundle.json" in response.headers["content-disposition"]
    document: dict[str, Any] = response.json()
    return document


def _keys(settings: Settings) -> CheckpointKeys:
    return CheckpointKeys.load(settings.keys_dir, settings.records.origin)


def _resign(document: dict[str, Any], keys: CheckpointKeys) -> dict[str, Any]:
    body = {k: v for k, v in document.items() if k != "signature"}
    return receipts.sign(body, keys, BUNDLE_PREFIX)


def test_a_bundle_verifies_offline(bundle: dict[str, Any], settings: Settings) -> None:
    checked = verify_bundle(bundle, keys=load_keyring(settings.keys_dir))
    assert checked.entries == len(bundle["entries"]) >= 8
    subjects = {item["entry"]["subject"] for item in bundle["entries"]}
    assert len(subjects) == 1  # only the one conversation
    assert checked.subjects_complete == 1
    texts = [item.get("text") for item in bundle["entries"]]
    assert "mkt eurusd 1m" in texts
    assert bundle["public_keys"] == [_keys(settings).signer.verifier.vkey]


def _edit_payload(document: dict[str, Any]) -> None:
    entry = document["entries"][1]["entry"]
    entry["payload"] = entry["payload"].replace('"message"', '"massage"')


def _flip_path(document: dict[str, Any]) -> None:
    path = document["entries"][2]["inclusion"]["path"]
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]


def _root(document: dict[str, Any]) -> None:
    origin, size, _root_hash, rest = document["checkpoint"].split("\n", 3)
    zero = base64.b64encode(bytes(32)).decode("ascii")
    document["checkpoint"] = "\n".join([origin, size, zero, rest])


def _drop(document: dict[str, Any]) -> None:
    del document["entries"][3]


def _swap(document: dict[str, Any]) -> None:
    items = document["entries"]
    items[2], items[3] = items[3], items[2]


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "record": (_edit_payload, "not in the signed tree"),
    "proof": (_flip_path, "not in the signed tree"),
    "checkpoint": (_root, "signature"),
    "dropped record": (_drop, "stream number"),
    "reordered records": (_swap, "out of log order"),
}


@pytest.mark.parametrize("part", list(TAMPERING))
def test_tampering_is_caught_and_named(
    part: str, bundle: dict[str, Any], settings: Settings
) -> None:
    keys = load_keyring(settings.keys_dir)
    change, inner = TAMPERING[part]
    tampered = copy.deepcopy(bundle)
    change(tampered)
    with pytest.raises(ProofError, match="altered after signing"):
        verify_bundle(tampered, keys=keys)
    with pytest.raises(ProofError, match=inner):  # re-signed by the bank's own key, still caught
        verify_bundle(_resign(tampered, _keys(settings)), keys=keys)


def test_a_bundle_signed_by_another_key_is_refused(
    bundle: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    forged = _resign(bundle, CheckpointKeys.load(tmp_path / "forger", settings.records.origin))
    with pytest.raises(ProofError, match="not trusted"):
        verify_bundle(forged, keys=load_keyring(settings.keys_dir))


def test_dealchat_audit_report_bundle_and_verify_bundle(
    bundle: dict[str, Any], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    out = tmp_path / "all.bundle.json"
    made = CliRunner().invoke(app, ["audit", "report", "--format", "bundle", "-o", str(out)])
    assert made.exit_code == 0, made.output
    vkey = _keys(settings).signer.verifier.vkey
    checked = CliRunner().invoke(app, ["audit", "verify-bundle", str(out), "--key", vkey])
    assert checked.exit_code == 0, checked.output
    assert "bundle OK" in checked.output
    document = json.loads(out.read_text(encoding="utf-8"))
    _drop(document)
    out.write_text(json.dumps(_resign(document, _keys(settings))), encoding="utf-8")
    failed = CliRunner().invoke(app, ["audit", "verify-bundle", str(out), "--key", vkey])
    assert failed.exit_code == 1
    assert "bundle FAILED" in failed.output
