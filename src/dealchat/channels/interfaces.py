"""The adapter contract: what every channel hands inward and how replies go back out.

An adapter does three things, each testable alone and checked for every adapter by one contract
suite (`tests/channels/test_contract.py`):

1. `verify(request, now=...)` checks the platform's own proof that the request is genuine and fresh
   (signature, token, time window, replay). It raises `Rejected` (HTTP 401); nothing of a rejected
   request is recorded as the client's.
2. `parse(request)` turns a verified request into `InboundMessage`s, plus an immediate HTTP answer
   when the platform wants one (Slack's url_verification challenge, WhatsApp's hub.challenge).
3. `render(conversation_id, message)` is the platform's wire form of one `OutboundMessage`;
   `send(conversation_id, messages)` delivers it, raising `DeliveryFailed` (retryable or not,
   with the platform's Retry-After) so the outbox dispatcher can back off, rate-limit or give up.

Adapters that remember proofs against replay may also have `release(request)`: the webhook route
calls it when the core failed to process a verified request, so the platform's retry gets in.

The core imports this module only, never a platform folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class InboundMessage:
    """One message from a chat platform, already verified and normalised by its adapter."""

    channel: str
    conversation_id: str
    sender_id: str
    message_id: str
    text: str


# What the core stores a message's ids in (conversation.external_id, message.*_id columns).
ID_LIMITS = {"conversation_id": 512, "sender_id": 128, "message_id": 128}
MAX_TEXT = 16_000  # characters: longer than any platform sends in one message


def inbound_problem(message: InboundMessage) -> str | None:
    """Why the core cannot take this message as it is (a signed payload can still carry what no
    column or envelope takes: NUL bytes, lone surrogates, over-long ids), or None."""
    for name, limit in ID_LIMITS.items():
        value = getattr(message, name)
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            return f"{name} is not 1-{limit} characters of text"
        if not value.isprintable():
            return f"{name} holds a control character"
    if not isinstance(message.text, str) or len(message.text) > MAX_TEXT:
        return f"text is not at most {MAX_TEXT} characters of text"
    if "\x00" in message.text:
        return "text holds a NUL byte"
    try:
        message.text.encode("utf-8")
    except UnicodeEncodeError:
        return "text holds a lone surrogate"
    return None


@dataclass(frozen=True)
class OutboundMessage:
    """One bot message. `key` is the same for every delivery attempt of one message (the outbox
    item's id): a platform that deduplicates sends (Matrix transaction ids) posts it only once."""

    text: str
    link: str | None = None
    key: str | None = None
    seq: int | None = None  # its number in the conversation, once stored
    author: str | None = None  # the bank user who wrote it at the desk, as the client sees them


@dataclass(frozen=True)
class WebhookRequest:
    """An HTTP request as a platform sent it: header names lower-cased, the body as raw bytes
    (signatures are over the exact bytes, never over re-serialised JSON)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class HttpAnswer:
    """What the webhook answers the platform right away (a challenge echo, an XML 'success')."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Parsed:
    messages: list[InboundMessage] = field(default_factory=list)
    answer: HttpAnswer | None = None


class Rejected(Exception):  # noqa: N818 - a verdict, not an error of ours
    """The request is not provably from the platform, or is stale or replayed: answer 401.

    The reason is for our logs only; the platform (or an attacker) sees a bare 401.
    """


class DeliveryFailed(Exception):  # noqa: N818 - an outcome the dispatcher acts on
    """Sending to the platform failed. `permanent` ones are dead-lettered at once; others retry,
    no earlier than `retry_after` seconds when the platform said so (HTTP 429 Retry-After)."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


@runtime_checkable
class ChannelAdapter(Protocol):
    """A platform adapter: verifies, normalises and hands messages to `handle_inbound`, and
    delivers replies. `send` raises `DeliveryFailed`; returning means delivered."""

    name: str

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None: ...

    def parse(self, request: WebhookRequest) -> Parsed: ...

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]: ...

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None: ...


class InboundSink(Protocol):
    """Where verified, parsed messages go: the core in this process, or the core over the
    signed and encrypted edge-to-core link."""

    def accept(self, messages: list[InboundMessage]) -> None: ...

    def drop(self, channel: str, reason: str) -> None:
        """Note a signed payload (or a message in it) the core cannot take: it is answered 200
        so the platform does not retry it for ever, and dropped with this note."""
        ...
