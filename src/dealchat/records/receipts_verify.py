"""Order receipts and audit bundles, checked offline, pure (no database, no clock, no network).

A receipt is JSON: the order (id, reference, client), the hash of the ticket the client
confirmed, the `order:placed` audit entry as stored, its RFC 9162 inclusion proof, the signed
checkpoint (C2SP note) the proof leads to, and an Ed25519 signature by the bank over all of it.
`verify_receipt` checks the signature, the checkpoint's signature, the inclusion of the entry in
the signed tree, and that the entry is this order's placement of exactly this content.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dealchat.records.chain import canonical_json
from dealchat.records.leaf import LeafFields
from dealchat.records.notes import Checkpoint, Keyring, NoteError, Verifier
from dealchat.records.offline import verify_entry

RECEIPT_TYPE = "dealchat.order-receipt/v1"
SIGNED_PREFIX = b"dealchat order receipt v1\n"


class ProofError(ValueError):
    """The document does not prove what it claims; the message says which part fails."""


def entry_json(fields: LeafFields) -> dict[str, Any]:
    return {
        "seq": fields.seq,
        "at": fields.at.astimezone(dt.UTC).isoformat(),
        "event": fields.event,
        "actor": fields.actor,
        "subject": fields.subject,
        "payload": fields.payload,
        "stream_seq": fields.stream_seq,
        "stream_prev": fields.stream_prev.hex(),
    }


def entry_fields(data: Any) -> LeafFields:
    """An exported entry back into the fields its leaf hash commits to."""
    try:
        return LeafFields(
            seq=_int(data["seq"]),
            at=dt.datetime.fromisoformat(str(data["at"])),
            event=str(data["event"]),
            actor=str(data["actor"]),
            subject=str(data["subject"]),
            payload=str(data["payload"]),
            stream_seq=_int(data["stream_seq"]),
            stream_prev=bytes.fromhex(str(data["stream_prev"])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"malformed entry: {error}") from error


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


def proof_json(leaf_index: int, tree_size: int, path: Sequence[bytes]) -> dict[str, Any]:
    return {
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "path": [node.hex() for node in path],
    }


def check_inclusion(entry: Any, proof: Any, note: str, keys: Keyring) -> Checkpoint:
    """The signed checkpoint that includes `entry`; ProofError naming the failing part."""
    fields = entry_fields(entry)
    try:
        path = [bytes.fromhex(node) for node in proof["path"]]
        index, size = _int(proof["leaf_index"]), _int(proof["tree_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"entry {fields.seq}: malformed proof: {error}") from error
    try:
        checkpoint = verify_entry(fields, leaf_index=index, path=path, note=note, keys=keys)
    except NoteError as error:
        raise ProofError(f"entry {fields.seq}: {error}") from error
    if checkpoint.size != size:
        raise ProofError(f"entry {fields.seq}: the proof is for size {size}, not the checkpoint's")
    return checkpoint


def signed_bytes(document: Mapping[str, Any], prefix: bytes = SIGNED_PREFIX) -> bytes:
    body = {key: value for key, value in document.items() if key != "signature"}
    return prefix + canonical_json(body).encode("utf-8")


def check_signature(
    document: Mapping[str, Any], keys: Keyring, prefix: bytes = SIGNED_PREFIX
) -> Verifier:
    try:
        signature = document["signature"]
        key_id = bytes.fromhex(str(signature["key_id"]))
        value = base64.b64decode(str(signature["value"]), validate=True)
        verifier = keys.find(str(signature["name"]), key_id)
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise ProofError(f"malformed signature: {error}") from error
    if verifier is None:
        raise ProofError("signed by a key that is not trusted")
    if not verifier.verify(signed_bytes(document, prefix), value):
        raise ProofError("the signature does not match the content (altered after signing)")
    return verifier


@dataclass(frozen=True)
class VerifiedReceipt:
    ref: str
    seq: int
    checkpoint_size: int
    signed_by: str


def verify_receipt(document: Mapping[str, Any], *, keys: Keyring) -> VerifiedReceipt:
    """Every check a client can make alone; raises ProofError naming the first failure."""
    if document.get("type") != RECEIPT_TYPE:
        raise ProofError(f"not a receipt of type {RECEIPT_TYPE}")
    signer = check_signature(document, keys)
    checkpoint = check_inclusion(
        document.get("entry"), document.get("inclusion"), str(document.get("checkpoint")), keys
    )
    fields = entry_fields(document["entry"])
    order = document.get("order") or {}
    _check_placement(fields, order, document.get("content_hash"))
    return VerifiedReceipt(str(order["ref"]), fields.seq, checkpoint.size, signer.vkey)


def _check_placement(fields: LeafFields, order: Mapping[str, Any], content_hash: Any) -> None:
    if fields.event != "order:placed":
        raise ProofError(f"entry {fields.seq} is a {fields.event}, not an order placement")
    if fields.subject != f"order:{order.get('id')}":
        raise ProofError(f"entry {fields.seq} is about {fields.subject}, not this order")
    try:
        payload = json.loads(fields.payload)
    except ValueError as error:
        raise ProofError(f"entry {fields.seq}: malformed payload") from error
    if payload.get("ref") != order.get("ref"):
        raise ProofError("the entry places another order reference")
    if not isinstance(content_hash, str) or payload.get("ticket_hash") != content_hash:
        raise ProofError("the content hash is not the one the log recorded for this order")
