"""Edge and core as two real processes (`dealchat serve --role edge|core`, uvicorn on free
ports): a signed Slack webhook enters at the edge, crosses the sealed link, is answered by the
core and delivered by its dispatcher to a local Slack API; the secure link in the answer opens
at the edge, relayed to the core. Forged and replayed envelopes are refused by the core."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.channels.slack import wire
from tests.channels.split import Split, running_split, slack_replies


@pytest.fixture
def split(database_url: str, tmp_path: Path) -> Iterator[Split]:
    with running_split(database_url, tmp_path) as running:
        yield running


def _slack_replies(split: Split, count: int) -> list[str]:
    return slack_replies(split, count)


def test_a_slack_message_crosses_edge_and_core(split: Split) -> None:
    body = wire.fixture("message_im", text="mkt eurusd 1m", ts="1764000000.000100")
    headers = wire.headers(body, int(time.time()))
    answer = httpx.post(f"{split.edge_url}/channels/slack/webhook", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    [reply] = _slack_replies(split, 1)
    link = re.search(r"http://\S+/link/\S+", reply)
    assert link, reply
    assert link.group(0).startswith(split.edge_url)

    page = httpx.get(link.group(0))  # the link page, at the edge, relayed to the core
    assert page.status_code == 200
    assert 'name="password"' in page.text
    style = httpx.get(f"{split.edge_url}/static/webchat/webchat.css")
    assert (style.status_code, style.headers["content-type"]) == (200, "text/css; charset=utf-8")
    assert httpx.get(f"{split.edge_url}/api/v1/webchat/messages").status_code in (404, 405)

    replay = httpx.post(f"{split.edge_url}/channels/slack/webhook", content=body, headers=headers)
    assert replay.status_code == 401


def test_the_core_refuses_forged_and_replayed_envelopes(split: Split) -> None:
    message = {
        "channel": "slack",
        "conversation_id": "T061EG9R6:D024BE91L",
        "sender_id": "T061EG9R6:U2147483697",
        "message_id": "1764000000.000200",
        "text": "status",
    }
    envelope = split.edge_link.seal({"messages": [message]})
    url = f"{split.core_url}/internal/v1/inbound"
    forged = envelope.replace(envelope.split(".")[3][:8], "AAAAAAAA", 1)
    assert httpx.post(url, content=forged).status_code == 401
    assert httpx.post(url, content=json.dumps({"messages": [message]})).status_code == 401
    assert httpx.post(url, content=envelope).status_code == 204
    assert httpx.post(url, content=envelope).status_code == 401
    assert len(_slack_replies(split, 1)) == 1
