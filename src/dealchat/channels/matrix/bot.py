"""The Matrix bot: sync, accept allowed invites, hand new text messages to the core.

One batch at a time: invites first, then each joined room's timeline in order. Each new message
goes to the sink (`channels.sink.LocalSink`: `conversations.desk.handle_inbound` in its own
transaction, channel "matrix", conversation = room id, sender = MXID, message id = event id);
the replies are queued in the outbox in that transaction and delivered by the dispatcher through
`MatrixAdapter`. The sync token is saved only once the whole batch is handed in, so a crash or an
error replays the batch: the desk knows those event ids and neither answers nor orders twice.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable

from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinResponse,
    MegolmEvent,
    RoomMemberEvent,
    RoomMessageText,
    SyncError,
    SyncResponse,
    UnknownEncryptedEvent,
)
from nio.responses import InviteInfo, RoomInfo

from dealchat.channels.interfaces import InboundMessage, InboundSink, OutboundMessage
from dealchat.channels.matrix import policy
from dealchat.channels.matrix.sender import Sender
from dealchat.channels.matrix.state import StateStore
from dealchat.settings import MatrixSettings

CHANNEL = "matrix"
ENCRYPTED_NOTICE = (
    "I cannot read end-to-end encrypted rooms, so I did not see your message. Please invite me "
    "to a room without encryption (when creating it, switch end-to-end encryption off)."
)
MAX_FAILURES = 3  # a message the core fails on this often is given up (logged), not retried forever
log = logging.getLogger("dealchat.channels.matrix")


class SyncFailedError(RuntimeError):
    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class MatrixBot:
    def __init__(
        self,
        client: AsyncClient,
        *,
        settings: MatrixSettings,
        sink: InboundSink,
        state: StateStore,
        relogin: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        assert settings.user_id is not None
        self.relogin = relogin
        self.client, self.settings, self.state, self.sink = client, settings, state, sink
        self.user_id = settings.user_id
        self.sender = Sender(
            client,
            attempts=settings.send_attempts,
            max_retry_after=settings.max_retry_after_seconds,
        )
        self.handled: collections.deque[str] = collections.deque(maxlen=1000)  # event ids
        self.given_up: collections.deque[str] = collections.deque(maxlen=1000)
        self._failures: dict[str, int] = {}
        self._told_encrypted: set[str] = set()
        self.refused_invites: collections.deque[str] = collections.deque(maxlen=1000)

    async def run_forever(self) -> None:
        """Sync until cancelled; errors back off and replay the unanswered batch."""
        token = self.state.sync_token()
        backoff = 1.0
        while True:
            try:
                token = await self.sync_once(token)
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except SyncFailedError as error:
                if error.code == "M_UNKNOWN_TOKEN" and await self._log_in_again():
                    continue
                log.error("matrix sync failed (%s); retrying in %.0f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
            except Exception:
                log.exception("matrix sync failed; retrying in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    async def _log_in_again(self) -> bool:
        """The homeserver no longer knows our token (device logged out, password reset)."""
        if self.relogin is None:
            return False
        log.warning("matrix: the access token was revoked; logging in again")
        try:
            await self.relogin()
        except Exception:
            log.exception("matrix: logging in again failed")
            return False
        return True

    async def sync_once(self, token: str | None) -> str:
        """One sync: answer it whole, then save and return the next token."""
        timeout = 0 if token is None else self.settings.sync_timeout_seconds * 1000
        response = await self.client.sync(timeout=timeout, since=token, full_state=token is None)
        if isinstance(response, SyncError) or not isinstance(response, SyncResponse):
            code = getattr(response, "status_code", None)
            raise SyncFailedError(f"sync refused: {code or response}", code)
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite)
        if token is not None:  # the first sync of a new bot is history: nothing to answer
            for room_id, joined in response.rooms.join.items():
                await self._on_room(room_id, joined)
        self.state.save_sync_token(response.next_batch)
        return str(response.next_batch)

    async def _on_invite(self, room_id: str, invite: InviteInfo) -> None:
        inviter = next(
            (
                event.sender
                for event in invite.invite_state
                if isinstance(event, InviteMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "invite"
            ),
            None,
        )
        if inviter is not None and self._allowed(inviter):
            response = await self.client.join(room_id)
            if not isinstance(response, JoinResponse):
                raise SyncFailedError(f"joining {room_id} failed: {response.status_code}")
            log.info("matrix: joined %s on %s's invite", room_id, inviter)
            return
        log.warning("matrix: refused the invite to %s from %s", room_id, inviter)
        self.refused_invites.append(room_id)
        await self.client.room_leave(room_id)

    async def _on_room(self, room_id: str, joined: RoomInfo) -> None:
        for event in policy.after_last(joined.timeline.events, self._is_own_join):
            if isinstance(event, RoomMessageText) and self._addressed_to_us(event):
                await self._hand_in(room_id, event)
            elif isinstance(event, MegolmEvent | UnknownEncryptedEvent):
                await self._cannot_read(room_id, event.sender)

    async def _cannot_read(self, room_id: str, sender: str) -> None:
        """Encrypted messages are unreadable without libolm: say so once per room, record nothing
        (there are no words to record). This notice goes straight out, not through the outbox."""
        if sender == self.user_id or not self._allowed(sender) or room_id in self._told_encrypted:
            return
        self._told_encrypted.add(room_id)
        log.warning("matrix: %s is end-to-end encrypted; told the client", room_id)
        await self.sender.send(room_id, [OutboundMessage(ENCRYPTED_NOTICE)])

    def _is_own_join(self, event: object) -> bool:
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key == self.user_id
            and event.membership == "join"
        )

    def _addressed_to_us(self, event: RoomMessageText) -> bool:
        if event.sender == self.user_id or not self._allowed(event.sender):
            return False
        relates = event.source.get("content", {}).get("m.relates_to") or {}
        if relates.get("rel_type") == "m.replace":
            return False  # an edit of an earlier message is not a new instruction
        return 0 < len(event.body) <= policy.MAX_TEXT_LENGTH

    def _allowed(self, user_id: str) -> bool:
        return policy.is_allowed(
            user_id, users=self.settings.allowed_users, servers=self.settings.allowed_servers
        )

    async def _hand_in(self, room_id: str, event: RoomMessageText) -> None:
        if not policy.usable_ids(room_id, event.sender, event.event_id):
            log.warning("matrix: ids of %s too long for us; ignored", event.event_id)
            return
        message = InboundMessage(
            channel=CHANNEL,
            conversation_id=room_id,
            sender_id=event.sender,
            message_id=event.event_id,
            text=policy.without_reply_fallback(event.body),
        )
        try:
            await asyncio.to_thread(self.sink.accept, [message])
        except Exception:
            failures = self._failures.get(event.event_id, 0) + 1
            self._failures[event.event_id] = failures
            if failures < MAX_FAILURES:
                raise  # the batch is replayed from the saved token
            log.exception("matrix: gave up on %s after %d failures", event.event_id, failures)
            self._failures.pop(event.event_id)
            self.given_up.append(event.event_id)
            return
        self._failures.pop(event.event_id, None)
        self.handled.append(event.event_id)
