"""Order receipts: a placed order's reply links to a signed receipt the client verifies offline;
any change to the receipt, its proof or its checkpoint is caught."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.records import receipts
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.keys import load_keyring
from dealchat.records.models import AuditEntry
from dealchat.records.receipts_verify import ProofError, verify_receipt
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.chat import Chat
from tests.factories.identity import make_user


@pytest.fixture
def filled(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice orders, approves and is filled; the fill reply carries her receipt link."""
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    assert chat.text("buy 1m eurusd 1W 360t").startswith("TO CONFIRM")
    assert chat.log_in(chat.link("c"), alice).status_code == 200
    [fill] = chat.say("c")
    with unit_of_work(platform.sessions) as session:
        order = session.scalars(select(Order)).one()
        ref = order.ref
    assert fill["text"].startswith(f"FILLED {ref}")
    assert "signed receipt" in fill["text"]
    return {"chat": chat, "ref": ref, "link": urlparse(fill["link"]).path}


def _keys(settings: Settings) -> CheckpointKeys:
    return CheckpointKeys.load(settings.keys_dir, settings.records.origin)


def test_the_client_fetches_a_receipt_once_and_it_verifies_offline(
    filled: dict[str, Any], client: TestClient, platform: Platform, settings: Settings
) -> None:
    assert filled["link"].startswith("/api/v1/receipts/links/")
    response = client.get(filled["link"])
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert client.get(filled["link"]).status_code == 404  # single use
    checked = verify_receipt(receipt, keys=load_keyring(settings.keys_dir))
    assert checked.ref == filled["ref"]
    with unit_of_work(platform.sessions) as session:
        order = session.scalars(select(Order)).one()
        placed = receipts.placement(session, order.id)
        assert placed is not None
        assert checked.seq == placed.seq
        assert receipt["content_hash"] == order.ticket_hash
        issued = session.scalars(
            select(AuditEntry).where(AuditEntry.event == "receipt:issued")
        ).all()
        assert [json.loads(e.payload)["ref"] for e in issued] == [filled["ref"]]
        assert verify(session, keys=load_keyring(settings.keys_dir)).ok


def test_status_of_a_placed_order_gives_a_new_receipt_link_a_ticket_none(
    filled: dict[str, Any], client: TestClient
) -> None:
    chat = filled["chat"]
    [status] = chat.say(f"status {filled['ref']}")
    assert status["link"]
    assert client.get(urlparse(status["link"]).path).status_code == 200
    chat.say("buy 2m eurusd")
    [listing] = chat.say("status")
    assert listing["link"] is None


def test_staff_with_order_read_fetch_any_receipt(
    filled: dict[str, Any], client: TestClient, platform: Platform
) -> None:
    url = f"/api/v1/orders/{filled['ref']}/receipt"
    assert client.get(url).status_code == 401
    carol = make_user(platform, "carol", kind="internal")
    give_role(platform, "carol", "desk", [Right.ORDER_READ])
    response = client.get(url, headers={"Authorization": f"Bearer {token_for(platform, carol.id)}"})
    assert response.status_code == 200, response.text
    assert response.json()["order"]["ref"] == filled["ref"]


def _flip_hex(text: str) -> str:
    return ("0" if text[0] != "0" else "1") + text[1:]


def _payload(receipt: dict[str, Any], **changes: Any) -> None:
    payload = json.loads(receipt["entry"]["payload"])
    payload.update(changes)
    receipt["entry"]["payload"] = json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _root(receipt: dict[str, Any]) -> None:
    origin, size, _root_hash, rest = receipt["checkpoint"].split("\n", 3)
    other = base64.b64encode(bytes(32)).decode("ascii")
    receipt["checkpoint"] = "\n".join([origin, size, other, rest])


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "content hash": (lambda r: r.update(content_hash="ab" * 32), "content hash"),
    "order ref": (lambda r: r["order"].update(ref="ORD-AAAAAAAA"), "reference"),
    "order id": (lambda r: r["order"].update(id="f" * 32), "not this order"),
    "entry payload": (lambda r: _payload(r, quantity="9000000"), "not in the signed tree"),
    "proof path": (
        lambda r: r["inclusion"]["path"].__setitem__(0, _flip_hex(r["inclusion"]["path"][0])),
        "not in the signed tree",
    ),
    "proof index": (
        lambda r: r["inclusion"].update(leaf_index=r["inclusion"]["leaf_index"] + 1),
        "is not leaf",
    ),
    "checkpoint root": (_root, "signature"),
}


@pytest.mark.parametrize("part", list(TAMPERING))
def test_any_change_to_a_receipt_is_caught(
    part: str, filled: dict[str, Any], client: TestClient, settings: Settings
) -> None:
    receipt = client.get(filled["link"]).json()
    keys = load_keyring(settings.keys_dir)
    change, inner_problem = TAMPERING[part]
    tampered = copy.deepcopy(receipt)
    change(tampered)
    with pytest.raises(ProofError, match="altered after signing"):
        verify_receipt(tampered, keys=keys)
    # Even re-signed with the bank's own key, the proofs inside still catch it.
    resigned = receipts.sign(
        {k: v for k, v in tampered.items() if k != "signature"}, _keys(settings)
    )
    with pytest.raises(ProofError, match=inner_problem):
        verify_receipt(resigned, keys=keys)


def test_a_receipt_signed_by_another_key_is_refused(
    filled: dict[str, Any], client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    receipt = client.get(filled["link"]).json()
    forger = CheckpointKeys.load(tmp_path / "forger", settings.records.origin)
    forged = receipts.sign({k: v for k, v in receipt.items() if k != "signature"}, forger)
    with pytest.raises(ProofError, match="not trusted"):
        verify_receipt(forged, keys=load_keyring(settings.keys_dir))


def test_dealchat_audit_verify_receipt(
    filled: dict[str, Any], client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    receipt = client.get(filled["link"]).json()
    good, bad = tmp_path / "receipt.json", tmp_path / "tampered.json"
    good.write_text(json.dumps(receipt))
    vkey = _keys(settings).signer.verifier.vkey
    result = CliRunner().invoke(app, ["audit", "verify-receipt", str(good), "--key", vkey])
    assert result.exit_code == 0, result.output
    assert f"receipt OK: {filled['ref']}" in result.output
    receipt["content_hash"] = "00" * 32
    bad.write_text(json.dumps(receipt))
    result = CliRunner().invoke(app, ["audit", "verify-receipt", str(bad), "--key", vkey])
    assert result.exit_code == 1
    assert "receipt FAILED" in result.output
    no_key = CliRunner().invoke(app, ["audit", "verify-receipt", str(good)])
    assert no_key.exit_code == 0
    assert "trusting the key the file names" in no_key.output


def test_link_tokens_never_reach_the_access_log(
    filled: dict[str, Any], client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = filled["link"].rsplit("/", 1)[1]
    with caplog.at_level("INFO", logger="dealchat.access"):
        assert client.get(filled["link"]).status_code == 200
    logged = "\n".join(repr(vars(record)) for record in caplog.records)
    assert "/api/v1/receipts/links/<redacted>" in logged
    assert token not in logged
