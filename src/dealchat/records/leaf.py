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
    return leaf_data(
        fields.seq,
        at_text(fields.at),
        fields.event,
        fields.actor,
        fields.subject,
        fields.payload,
        fields.stream_seq,
        fields.stream_prev,
    )


def at_text(at: dt.datetime) -> str:
    """How a leaf writes its time: ISO 8601 in UTC (microseconds only when there are some)."""
    return at.astimezone(dt.UTC).isoformat()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros_text(value: int) -> str:
    """`at_text` of a time stored as microseconds since the epoch (`db.base.UtcMicros`)."""
    return (_EPOCH + dt.timedelta(microseconds=value)).isoformat()


def leaf_data(  # noqa: PLR0917 - positional: called once per entry on the hot paths
    seq: int,
    at: str,
    event: str,
    actor: str,
    subject: str,
    payload: str,
    stream_seq: int,
    stream_prev: bytes,
) -> bytes:
    """`leaf_bytes` from plain values, `at` already as `at_text`: the appender's and the
    verifier's hot path (no LeafFields, no datetime per entry)."""
    return (
        f'{{"actor":{_text(actor)},"at":"{at}","event":{_text(event)},'
        f'"payload":{_text(payload)},"seq":{int(seq)},'
        f'"stream_prev":"{stream_prev.hex()}","stream_seq":{int(stream_seq)},'
        f'"subject":{_text(subject)},"v":{FORMAT}}}'
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
class Queued:
    """An entry as a transaction records it (what after-record hooks receive): its number in the
    tree and in its stream are given when it is placed, at the transaction's commit or soon after
    (`records.service`). `payload` is the canonical JSON the leaf will commit to."""

    at: dt.datetime
    event: str
    actor: str
    subject: str
    payload: str


@dataclass(frozen=True, slots=True)
class Recorded(LeafFields):
    """An entry as appended: its fields, its leaf hash and the seq of its stream's previous entry
    (0 for the first; what after-record hooks receive)."""

    leaf_hash: bytes
    prev_seq: int
