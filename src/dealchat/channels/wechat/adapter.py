"""WeChat official account server messages.

In: the query carries `signature`, `timestamp`, `nonce` (and for the URL check `echostr`, echoed
back when the signature holds). The timestamp must be fresh and a (timestamp, nonce) pair is used
once. With an EncodingAESKey set, only the encrypted mode is accepted: `encrypt_type=aes`,
`msg_signature` over the `Encrypt` element, AES-256-CBC with our app id inside. Text messages are
read (the conversation and sender are the user's OpenID, the id is MsgId); we answer `success`
at once and reply through the customer service message API.

Out: `POST {api_url}/cgi-bin/message/custom/send?access_token=...`; the access token comes from
`/cgi-bin/token` and is renewed when WeChat says it expired (40001, 42001).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from xml.etree.ElementTree import Element

import httpx
from defusedxml import DefusedXmlException, ElementTree  # type: ignore[import-untyped]  # no stubs published

from dealchat.channels import http
from dealchat.channels.config import WeChatSettings
from dealchat.channels.interfaces import (
    DeliveryFailed,
    HttpAnswer,
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)
from dealchat.channels.wechat import crypto

NAME = "wechat"
_TOKEN_EXPIRED = {40001, 40014, 42001}
_RETRYABLE = {-1, 45009, 45011}


class WeChatAdapter:
    name = NAME

    def __init__(self, settings: WeChatSettings, *, client: httpx.Client | None = None) -> None:
        self._token = settings.secret("token")
        self._app_id = settings.app_id
        self._app_secret = settings.secret("app_secret")
        has_key = settings.encoding_aes_key or settings.encoding_aes_key_file
        self._key = crypto.aes_key(settings.secret("encoding_aes_key")) if has_key else None
        self._api = settings.api_url.rstrip("/")
        self._window = dt.timedelta(seconds=settings.max_age_seconds)
        self.replays = http.ReplayGuard(self._window)
        self._client = client or httpx.Client(timeout=http.TIMEOUT)
        self._access: tuple[str, dt.datetime] | None = None
        self._lock = threading.Lock()

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        q = request.query
        stamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        http.check_fresh(http.epoch(stamp), now=now, window=self._window)
        if not crypto.same(crypto.signature(self._token, stamp, nonce), q.get("signature", "")):
            raise Rejected("bad wechat signature")
        if request.method == "POST" and self._key is not None:
            if q.get("encrypt_type") != "aes":
                raise Rejected("plain message while the encrypted mode is on")
            encrypted = _text(_xml(request.body), "Encrypt")
            expected = crypto.signature(self._token, stamp, nonce, encrypted)
            if not crypto.same(expected, q.get("msg_signature", "")):
                raise Rejected("bad wechat msg_signature")
        self.replays.check(f"{stamp}:{nonce}", now=now)

    def release(self, request: WebhookRequest) -> None:
        self.replays.release(f"{request.query.get('timestamp')}:{request.query.get('nonce')}")

    def parse(self, request: WebhookRequest) -> Parsed:
        if request.method == "GET":
            return Parsed(answer=HttpAnswer(request.query.get("echostr", "").encode("utf-8")))
        root = _xml(request.body)
        if self._key is not None:
            root = _xml(crypto.decrypt(_text(root, "Encrypt"), self._key, self._app_id))
        success = HttpAnswer(b"success")
        if _text(root, "MsgType") != "text" or not _text(root, "Content").strip():
            return Parsed(answer=success)
        openid = _text(root, "FromUserName")
        message = InboundMessage(
            channel=NAME,
            conversation_id=openid,
            sender_id=openid,
            message_id=_text(root, "MsgId"),
            text=_text(root, "Content"),
        )
        return Parsed(messages=[message], answer=success)

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        content = http.with_link(message.text, message.link)
        return {"touser": conversation_id, "msgtype": "text", "text": {"content": content}}

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        for message in messages:
            response = http.post(
                self._client,
                f"{self._api}/cgi-bin/message/custom/send",
                json=self.render(conversation_id, message),
                params={"access_token": self._access_token()},
            )
            self._check(http.json_body(response))

    def check(self) -> str:
        """An access token for the app id and secret; the mode in force."""
        with self._lock:
            self._access = self._fetch_token(dt.datetime.now(dt.UTC))
        mode = "encrypted" if self._key is not None else "plain"
        return f"access token for {self._app_id}, {mode} mode"

    def _check(self, body: dict[str, Any]) -> None:
        code = int(body.get("errcode", 0))
        if code == 0:
            return
        reason = f"wechat: {code} {str(body.get('errmsg', ''))[:100]}"
        if code in _TOKEN_EXPIRED:
            with self._lock:
                self._access = None
            raise DeliveryFailed(reason)
        if code in _RETRYABLE:
            raise DeliveryFailed(reason, retry_after=60.0 if code == 45009 else None)
        raise DeliveryFailed(reason, permanent=True)

    def _access_token(self) -> str:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._access is None or now >= self._access[1]:
                self._access = self._fetch_token(now)
            return self._access[0]

    def _fetch_token(self, now: dt.datetime) -> tuple[str, dt.datetime]:
        params = {"grant_type": "client_credential", "appid": self._app_id}
        params["secret"] = self._app_secret
        response = http.call(self._client, "GET", f"{self._api}/cgi-bin/token", params=params)
        http.check_status(response)
        body = http.json_body(response)
        if "access_token" not in body:
            raise DeliveryFailed(f"wechat token: {body.get('errcode')}")
        lifetime = max(int(body.get("expires_in", 7200)) - 300, 60)
        return str(body["access_token"]), now + dt.timedelta(seconds=lifetime)


def _xml(body: bytes) -> Element:
    try:
        root: Element = ElementTree.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as error:  # entities, DTDs: an attack, not a WeChat push
        raise Rejected(f"refused XML: {type(error).__name__}") from error
    except (ElementTree.ParseError, ValueError) as error:
        raise ValueError("body is not WeChat XML") from error
    return root


def _text(root: Element, tag: str) -> str:
    found = root.find(tag)
    return (found.text or "") if found is not None else ""
