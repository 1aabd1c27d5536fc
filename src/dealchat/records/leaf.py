"""What a leaf of the audit tree commits to, pure: the entry's fields as canonical JSON bytes.

An entry belongs to the stream of its subject (`conversation:<id>`, `order:<id>`, ...): it carries
its number in that stream and the leaf hash of the stream's previous entry, so the leaves of one
subject form a hash chain of their own and a gap in a conversation is visible without the rest of
the log. The payload is committed to as stored (ciphertext where a body is encrypted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from json.encoder import encode_basestring as _text  # json.dumps(str, ensure_ascii=False)

from dealchat.records.chain import canonical_json
from dealchat.records.merkle import HASH_SIZE, leaf_hash

FORMAT = 1
STREAM_GENESIS = bytes(HASH_SIZE)


@dataclass(frozen=True, slots=True)
class LeafFields:
    seq: int
    at: dt.datetime
    event: str
    actor: str
    subject: str
    payload: str
    stream_seq: int
    stream_prev: bytes


def leaf_bytes(fields: LeafFields) -> bytes:
    """`canonical_json` of the fields (keys sorted, no spaces), written out directly: the same
    bytes (a test holds them equal) at a fraction of the cost, since every append and every
    verification makes one."""
    at = fields.at.astimezone(dt.UTC).isoformat()
    return (
        f'{{"actor":{_text(fields.actor)},"at":"{at}","event":{_text(fields.event)},'
        f'"payload":{_text(fields.payload)},"seq":{int(fields.seq)},'
        f'"stream_prev":"{fields.stream_prev.hex()}","stream_seq":{int(fields.stream_seq)},'
        f'"subject":{_text(fields.subject)},"v":{FORMAT}}}'
    ).encode()


def leaf_bytes_reference(fields: LeafFields) -> bytes:
    """The definition `leaf_bytes` implements: canonical JSON of the fields."""
    return canonical_json(
        {
            "v": FORMAT,
            "seq": fields.seq,
            "at": fields.at.astimezone(dt.UTC).isoformat(),
            "event": fields.event,
            "actor": fields.actor,
            "subject": fields.subject,
            "payload": fields.payload,
            "stream_seq": fields.stream_seq,
            "stream_prev": fields.stream_prev.hex(),
        }
    ).encode("utf-8")


def entry_leaf_hash(fields: LeafFields) -> bytes:
    return leaf_hash(leaf_bytes(fields))


@dataclass(frozen=True, slots=True)
class Recorded(LeafFields):
    """An entry as appended: its fields and its leaf hash (what after-record hooks receive)."""

    leaf_hash: bytes
