"""The audit bundle: a report's entries as stored, each with its inclusion proof in one signed
checkpoint, the checkpoint, the public keys, and the bank's signature over all of it.

`verify_bundle` (pure, offline) checks the signature, the checkpoint's signature, every entry's
inclusion, and that each subject the bundle declares complete has no gap in its stream between
its first and last entry here, so a changed, dropped or reordered record, a changed proof and a
changed checkpoint are all caught, each named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.notes import Keyring
from dealchat.records.offline import check_stream
from dealchat.records.receipts import covering_checkpoint, fields_of, sign
from dealchat.records.receipts_verify import (
    ProofError,
    check_inclusion,
    check_signature,
    entry_fields,
    entry_json,
    proof_json,
)
from dealchat.records.reports import Report
from dealchat.records.service import inclusion_proof

BUNDLE_TYPE = "dealchat.audit-bundle/v1"
BUNDLE_PREFIX = b"dealchat audit bundle v1\n"


def build(session: Session, report: Report, *, keys: CheckpointKeys) -> dict[str, Any]:
    """The signed bundle of `report` (its entries proven against one checkpoint)."""
    last = max((entry.seq for entry in report.entries), default=0)
    checkpoint = covering_checkpoint(session, max(last, 1), keys)
    texts = {row.seq: row.text for row in report.rows if row.text is not None}
    items = []
    for entry in report.entries:
        proof = inclusion_proof(session, entry.seq, tree_size=checkpoint.size)
        item: dict[str, Any] = {
            "entry": entry_json(fields_of(entry)),
            "inclusion": proof_json(proof.leaf_index, proof.tree_size, proof.path),
        }
        if entry.seq in texts:
            item["text"] = texts[entry.seq]  # for the reader; not covered by the proofs
        items.append(item)
    if report.query.selection:  # chosen entries: each proven, no stream claimed complete
        complete: list[str] = []
    else:
        complete = sorted(report.query.subjects or {entry.subject for entry in report.entries})
    document = {
        "type": BUNDLE_TYPE,
        "report": report.header(),
        "checkpoint": checkpoint.note,
        "public_keys": [verifier.vkey for verifier in keys.keyring.verifiers],
        "complete_subjects": complete,
        "entries": items,
    }
    return sign(document, keys, BUNDLE_PREFIX)


def as_bytes(bundle: Mapping[str, Any]) -> bytes:
    return (json.dumps(bundle, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


@dataclass(frozen=True)
class VerifiedBundle:
    entries: int
    checkpoint_size: int
    subjects_complete: int


def verify_bundle(document: Mapping[str, Any], *, keys: Keyring) -> VerifiedBundle:
    """Every check a regulator can make alone; ProofError naming the first failure."""
    if document.get("type") != BUNDLE_TYPE:
        raise ProofError(f"not an audit bundle of type {BUNDLE_TYPE}")
    check_signature(document, keys, BUNDLE_PREFIX)
    note = str(document.get("checkpoint"))
    items = document.get("entries")
    if not isinstance(items, list):
        raise ProofError("malformed bundle: no entries")
    size = 0
    for item in items:
        size = check_inclusion(item.get("entry"), item.get("inclusion"), note, keys).size
    fields = [entry_fields(item["entry"]) for item in items]
    if [f.seq for f in fields] != sorted({f.seq for f in fields}):
        raise ProofError("entries are repeated or out of log order")
    complete = [str(subject) for subject in document.get("complete_subjects") or []]
    for subject in complete:
        problem = check_stream(
            [f for f in fields if f.subject == subject], complete_from_start=False
        )
        if problem is not None:
            raise ProofError(f"{subject}: {problem}")
    return VerifiedBundle(len(items), size, len(complete))
