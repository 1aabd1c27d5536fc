"""Order receipts (digital acknowledgements): issued from the log, signed, checkable offline.

`issue` finds the order's `order:placed` entry, makes sure a signed checkpoint covers it (signing
one now if the checkpointer has not yet), proves the entry's inclusion in that checkpoint's tree,
and signs the whole with the log's Ed25519 key. `receipts_verify.verify_receipt` checks it.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealchat.records.checkpoints import CheckpointKeys, create_checkpoint
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import LeafFields
from dealchat.records.models import AuditCheckpoint, AuditEntry
from dealchat.records.receipts_verify import (
    RECEIPT_TYPE,
    SIGNED_PREFIX,
    entry_json,
    proof_json,
    signed_bytes,
)
from dealchat.records.service import (
    AS_COMMITTED,
    in_stream,
    inclusion_proof,
    latest_checkpoint,
    pending,
    record,
    settle,
)


def fields_of(entry: AuditEntry) -> LeafFields:
    return LeafFields(
        seq=entry.seq,
        at=entry.at,
        event=entry.event,
        actor=entry.actor,
        subject=entry.subject,
        payload=entry.payload,
        stream_seq=entry.stream_seq,
        stream_prev=bytes(entry.stream_prev),
    )


def was_placed(session: Session, order_id: str) -> bool:
    """The order went to the counterparty: recorded in the log, or in this transaction."""
    subject = f"order:{order_id}"
    if any(e.subject == subject and e.event == "order:placed" for e in pending(session)):
        return True
    return placement(session, order_id, as_committed=True) is not None


def placement(session: Session, order_id: str, *, as_committed: bool = False) -> AuditEntry | None:
    """The entry that recorded the order going to the counterparty, if it did (`as_committed`:
    without placing this transaction's own entries first)."""
    return session.scalars(
        select(AuditEntry)
        .where(in_stream(f"order:{order_id}"), AuditEntry.event == "order:placed")
        .order_by(AuditEntry.seq)
        .limit(1)
        .execution_options(**{AS_COMMITTED: as_committed})
    ).first()


def covering_checkpoint(session: Session, seq: int, keys: CheckpointKeys) -> AuditCheckpoint:
    """The newest signed checkpoint if it covers entry `seq`, else one signed now."""
    latest = latest_checkpoint(session)
    if latest is not None and latest.size >= seq:
        return latest
    try:
        with session.begin_nested():
            signed = create_checkpoint(session, keys=keys)
    except IntegrityError:  # the checkpointer signed the same size at the same moment
        signed = latest_checkpoint(session)
    if signed is None or signed.size < seq:
        raise LookupError(f"no signed checkpoint covers entry {seq}")
    return signed


def sign(
    document: dict[str, Any], keys: CheckpointKeys, prefix: bytes = SIGNED_PREFIX
) -> dict[str, Any]:
    verifier = keys.signer.verifier
    value = keys.signer.private.sign(signed_bytes(document, prefix))
    return {
        **document,
        "signature": {
            "name": verifier.name,
            "key_id": verifier.key_id.hex(),
            "public_key": verifier.vkey,
            "value": base64.b64encode(value).decode("ascii"),
        },
    }


def issue(
    session: Session,
    *,
    order_id: str,
    ref: str,
    client_id: str,
    content_hash: str,
    keys: CheckpointKeys,
    actor: str,
) -> dict[str, Any]:
    """The signed receipt of a placed order; LookupError if it was never placed."""
    entry = placement(session, order_id)
    if entry is None and not session.in_nested_transaction():
        settle(session)  # queued by a commit that found another placing, moments ago
        entry = placement(session, order_id)
    if entry is None:
        raise LookupError(f"{ref} was not placed, so it has no receipt")
    checkpoint = covering_checkpoint(session, entry.seq, keys)
    proof = inclusion_proof(session, entry.seq, tree_size=checkpoint.size)
    document = {
        "type": RECEIPT_TYPE,
        "order": {"id": order_id, "ref": ref, "client": client_id},
        "content_hash": content_hash,
        "entry": entry_json(fields_of(entry)),
        "inclusion": proof_json(proof.leaf_index, proof.tree_size, proof.path),
        "checkpoint": checkpoint.note,
    }
    record(
        session,
        event=AuditEvent.RECEIPT_ISSUED,
        actor=actor,
        subject=f"order:{order_id}",
        payload={"ref": ref, "entry": entry.seq, "checkpoint_size": checkpoint.size},
    )
    return sign(document, keys)
