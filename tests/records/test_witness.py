"""The witness (C2SP tlog-witness, cosignature/v1): what it cosigns, what it refuses and with
which status, its append-only file, and its HTTP interface. No database: it has none."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from starlette.testclient import TestClient

from dealchat.records import merkle
from dealchat.records.cosignature import (
    MAX_REQUEST_BYTES,
    CosignerKey,
    RequestError,
    add_checkpoint_body,
    cosigner_key_id,
    parse_add_checkpoint,
)
from dealchat.records.notes import Keyring, Signer, checkpoint_body, sign_note
from dealchat.records.witness import (
    LOG_FILE,
    REFUSED_FILE,
    Witness,
    WitnessFileError,
    load_cosigner,
    log_keys,
)
from dealchat.records.witness_http import SIZE_TYPE, create_witness_app

ORIGIN = "bank.example/audit"
LOG = Signer(ORIGIN, Ed25519PrivateKey.generate())
TREE = merkle.MemoryTree(merkle.leaf_hash(bytes([i % 256, i // 256])) for i in range(300))
OTHER = merkle.MemoryTree(merkle.leaf_hash(b"x" + bytes([i % 256])) for i in range(300))


def note(size: int, tree: merkle.MemoryTree = TREE, signer: Signer = LOG) -> str:
    return sign_note(checkpoint_body(ORIGIN, size, tree.root(size)), [signer])


def request(old: int, size: int, tree: merkle.MemoryTree = TREE, **kw: object) -> bytes:
    proof = tree.consistency_proof(old, size) if old else []
    return add_checkpoint_body(old, proof, note(size, tree, **kw))  # type: ignore[arg-type]


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    return Witness(
        tmp_path / "w", name="w1.bank.example/dc", logs={ORIGIN: Keyring([LOG.verifier])}
    )


@pytest.fixture
def http(witness: Witness) -> TestClient:
    return TestClient(create_witness_app(witness))


def test_a_cosignature_is_cosignature_v1_over_the_checkpoint_body(witness: Witness) -> None:
    line = witness.add_checkpoint(parse_add_checkpoint(request(0, 10)), now=1_700_000_000)
    dash, name, encoded = line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "w1.bank.example/dc")
    raw = base64.b64decode(encoded)
    public = witness.key.public
    assert raw[:4] == cosigner_key_id(name, public)
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    assert struct.unpack(">Q", raw[4:12]) == (1_700_000_000,)
    body = checkpoint_body(ORIGIN, 10, TREE.root(10))
    message = f"cosignature/v1\ntime 1700000000\n{body}".encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)  # raises if wrong
    key = CosignerKey.from_vkey(witness.key.vkey)
    assert witness.key.vkey.split("+", 2)[2] == base64.b64encode(b"\x04" + public).decode()
    assert key.timestamp_of(body, line.rstrip("\n")) == 1_700_000_000
    assert key.timestamp_of(body.replace("\n10\n", "\n11\n"), line.rstrip("\n")) is None


def test_the_witness_key_is_made_once_0600(tmp_path: Path) -> None:
    first = load_cosigner(tmp_path / "k", "w")
    assert (tmp_path / "k" / "witness.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o700
    assert load_cosigner(tmp_path / "k", "w").key == first.key


def test_the_http_answers_follow_c2sp_tlog_witness(http: TestClient) -> None:
    post = lambda body: http.post("/add-checkpoint", content=body)  # noqa: E731
    assert post(request(0, 10)).status_code == 200
    conflict = post(request(0, 20))
    assert (conflict.status_code, conflict.text) == (409, "10\n")
    assert conflict.headers["content-type"].startswith(SIZE_TYPE)
    assert post(request(10, 20)).status_code == 200
    backwards = add_checkpoint_body(30, [], note(25))
    assert post(backwards).status_code == 400, "old size over the checkpoint's size"
    forged = Signer(ORIGIN, Ed25519PrivateKey.generate())
    assert post(request(20, 30, signer=forged)).status_code == 403
    unknown = add_checkpoint_body(
        0, [], sign_note(checkpoint_body("other/log", 3, bytes(32)), [LOG])
    )
    assert post(unknown).status_code == 404
    assert post(b"old 20\nnot-base64!\n\n" + note(30).encode()).status_code == 400
    assert post(b"x" * (MAX_REQUEST_BYTES + 1)).status_code == 413
    same = post(request(20, 20))
    assert same.status_code == 200, "the same checkpoint again is cosigned again"
    latest = http.get("/latest", params={"origin": ORIGIN})
    assert latest.status_code == 200
    assert latest.text.startswith(checkpoint_body(ORIGIN, 20, TREE.root(20)))
    assert http.get("/latest", params={"origin": "nobody/log"}).status_code == 404


def test_a_fork_or_rollback_is_refused_and_kept_as_evidence(
    http: TestClient, witness: Witness
) -> None:
    assert http.post("/add-checkpoint", content=request(0, 100)).status_code == 200
    # another history at a larger size: its proof from the size held cannot verify
    forked = add_checkpoint_body(100, TREE.consistency_proof(100, 200), note(200, OTHER))
    assert http.post("/add-checkpoint", content=forked).status_code == 422
    # another root at the size already cosigned
    same_size = add_checkpoint_body(100, [], note(100, OTHER))
    assert http.post("/add-checkpoint", content=same_size).status_code == 409
    # a rolled-back log (smaller than what was cosigned) cannot say the old size it never had
    rolled = http.post("/add-checkpoint", content=request(0, 60))
    assert (rolled.status_code, rolled.text) == (409, "100\n")
    refused = [
        json.loads(line) for line in (witness.directory / REFUSED_FILE).read_text().splitlines()
    ]
    assert [r["reason"] for r in refused] == [
        "the consistency proof does not verify",
        "another root at the same size",
    ]
    assert witness.latest(ORIGIN).size == 100  # type: ignore[union-attr]


def test_the_state_survives_a_restart_and_a_damaged_file_stops_the_witness(
    witness: Witness,
) -> None:
    for old, size in ((0, 10), (10, 50), (50, 51)):
        witness.add_checkpoint(parse_add_checkpoint(request(old, size)))
    again = Witness(witness.directory, name="w1.bank.example/dc", logs=witness.logs)
    assert again.latest(ORIGIN).size == 51  # type: ignore[union-attr]
    path = witness.directory / LOG_FILE
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])  # the middle line removed
    with pytest.raises(WitnessFileError, match="changed or removed"):
        Witness(witness.directory, name="w1.bank.example/dc", logs=witness.logs)


def test_two_witness_objects_on_one_folder_never_cosign_a_rollback(witness: Witness) -> None:
    """Checking the old size and recording the new one happen under one file lock: a second
    process (here a second object) sees what the first recorded before it checks."""
    other = Witness(witness.directory, name="w1.bank.example/dc", logs=witness.logs)
    witness.add_checkpoint(parse_add_checkpoint(request(0, 40)))
    with pytest.raises(Exception, match="latest cosigned size is 40"):
        other.add_checkpoint(parse_add_checkpoint(request(0, 30)))
    other.add_checkpoint(parse_add_checkpoint(request(40, 45)))
    assert witness.latest(ORIGIN).size == 45  # type: ignore[union-attr]


def test_malformed_requests_are_named() -> None:
    for body, problem in (
        (b"old 01\n\n", "old <size>"),
        (b"new 1\n\n", "old <size>"),
        (b"old 1\n" + b"AAAA\n" + b"\n", "SHA-256"),
        (b"old 1\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\n", "63"),
        (b"old 1\n", "empty line"),
        (b"old 1\n\n\x00", "NUL"),
        (b"old 1\n\n\xff", "UTF-8"),
    ):
        with pytest.raises(RequestError, match=problem):
            parse_add_checkpoint(body)


def test_log_keys_are_grouped_by_origin() -> None:
    rotated = Signer(ORIGIN, Ed25519PrivateKey.generate())
    logs = log_keys([LOG.verifier.vkey, rotated.verifier.vkey])
    assert list(logs) == [ORIGIN]
    assert len(logs[ORIGIN].verifiers) == 2
