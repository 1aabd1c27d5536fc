"""WeChat pushes as WeChat sends them: signed query, XML body, optionally AES-encrypted."""

from __future__ import annotations

from dealchat.channels.interfaces import WebhookRequest
from dealchat.channels.wechat import crypto
from tests.channels.wire_common import load

TOKEN = "wxTokenForDeskBot2026"
APP_ID = "wx5823bf96d3bd56c7"
APP_SECRET = "c7b1a9e3f5d2460b8a1c3e5f7d9b2a4c"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
PATH = "/channels/wechat/webhook"


def xml(name: str = "text_message", *, text: str | None = None, mid: str | None = None) -> str:
    body: str = load("wechat", name)["xml"]
    if text is not None:
        body = body.replace("<![CDATA[mkt eurusd 1m]]>", f"<![CDATA[{text}]]>")
    if mid is not None:
        body = body.replace("<MsgId>24312781934713211</MsgId>", f"<MsgId>{mid}</MsgId>")
    return body


def request(
    body: str,
    *,
    timestamp: int,
    nonce: str = "1320562132",
    token: str = TOKEN,
    encrypted: bool = False,
) -> WebhookRequest:
    stamp = str(timestamp)
    query = {
        "signature": crypto.signature(token, stamp, nonce),
        "timestamp": stamp,
        "nonce": nonce,
        "openid": "oLVPpjqs2BhvzwPj5A-vTYAX3GLc",
    }
    if encrypted:
        sealed = crypto.encrypt(body.encode(), crypto.aes_key(AES_KEY), APP_ID)
        body = load("wechat", "encrypted_envelope")["xml"].replace("{encrypt}", sealed)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = crypto.signature(token, stamp, nonce, sealed)
    headers = {"content-type": "text/xml"}
    return WebhookRequest("POST", PATH, headers, query, body.encode())
