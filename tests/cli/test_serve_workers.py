"""Several processes on one PostgreSQL database behave as one (issue 20): a signed webhook
replayed to the other process is refused there, a rate limit counts the requests of both, and
`dealchat serve --workers 2` runs two workers, one leader, and stops as one process does."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from dealchat.db.leader import TRY_LOCK
from tests.channels.slack import wire as slack
from tests.channels.split import DEALCHAT, _free_port, _wait_healthy
from tests.conftest import pg_schema
from tests.factories.processes import alive, children

PER_CONVERSATION = 3  # web chat messages a minute in one conversation, for these tests


@pytest.fixture
def pg_url(pg_ready: None) -> Iterator[str]:
    """A schema of its own: the servers here commit for real."""
    with pg_schema() as url:
        yield url


def _environment(data_dir: Path, url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DEALCHAT_DATA_DIR": str(data_dir),
        "DEALCHAT_DATABASE_URL": url,
        "DEALCHAT_LOG_LEVEL": "WARNING",
        "DEALCHAT_LIMITS__PER_MINUTE": json.dumps({"webchat-conversation": PER_CONVERSATION}),
        "DEALCHAT_CHANNELS__SLACK__ENABLED": "true",
        "DEALCHAT_CHANNELS__SLACK__SIGNING_SECRET": slack.SECRET,
        "DEALCHAT_CHANNELS__SLACK__BOT_TOKEN": slack.TOKEN,
        "DEALCHAT_CHANNELS__SLACK__API_URL": "http://127.0.0.1:9/api",  # replies go nowhere
    }
    env.pop("DEALCHAT_PUBLIC_URL", None)
    return env


@contextmanager
def _serving(env: dict[str, str], log: Path, *options: str) -> Iterator[tuple[str, int]]:
    port = _free_port()
    command = [str(DEALCHAT), "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=60)


def _signed_webhook() -> tuple[bytes, dict[str, str]]:
    body = slack.fixture("message_im", text="eurusd?", client_msg_id=secrets.token_hex(8))
    return body, slack.headers(body, int(time.time()))


def _say(url: str, conversation: str, n: int) -> int:
    """One web chat message on a connection of its own (so any worker may take it)."""
    body = {
        "conversation_id": conversation,
        "sender_id": "sender-workers-01",
        "message_id": f"m-{n}",
        "text": "help",
    }
    with httpx.Client(base_url=url, timeout=30) as http:
        return http.post("/api/v1/webchat/messages", json=body).status_code


def _within_one_minute() -> None:
    """Limits count in windows on the minute: start early enough in one to finish in it."""
    second = dt.datetime.now(dt.UTC).second
    if second > 45:
        time.sleep(61 - second)


def test_two_processes_share_the_replay_guard_and_the_rate_limit(
    pg_url: str, tmp_path: Path
) -> None:
    env = _environment(tmp_path / "var", pg_url)
    with (
        _serving(env, tmp_path / "one.log") as (one, _),
        _serving(env, tmp_path / "two.log") as (two, _),
    ):
        body, headers = _signed_webhook()
        with httpx.Client(timeout=30) as http:
            assert http.post(f"{one}/channels/slack/webhook", content=body, headers=headers)
            replayed = http.post(f"{two}/channels/slack/webhook", content=body, headers=headers)
            assert replayed.status_code == 401  # the other process saw it first
            again = http.post(f"{one}/channels/slack/webhook", content=body, headers=headers)
            assert again.status_code == 401
        _within_one_minute()
        answers = [_say(one if n % 2 else two, "conv-workers-0001", n) for n in range(5)]
    assert answers == [200] * PER_CONVERSATION + [429, 429]


def test_two_workers_serve_one_socket_with_one_leader_and_stop_together(
    pg_url: str, tmp_path: Path
) -> None:
    env = _environment(tmp_path / "var", pg_url)
    log = tmp_path / "serve.log"
    with _serving(env, log, "--workers", "2") as (url, pid):
        workers = children(pid)
        assert len(workers) == 2, log.read_text()[-2000:]
        engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:  # the leader's lock is taken: by one of them
                assert connection.execute(TRY_LOCK).scalar_one() is False
        finally:
            engine.dispose()
        _within_one_minute()
        answers = [_say(url, "conv-workers-0002", n) for n in range(6)]
        assert sorted(answers) == [200] * PER_CONVERSATION + [429] * 3
        body, headers = _signed_webhook()
        replays = []
        for _ in range(6):
            with httpx.Client(timeout=30) as http:  # a new connection each: either worker
                sent = http.post(f"{url}/channels/slack/webhook", content=body, headers=headers)
                replays.append(sent.status_code)
        assert replays == [200] + [401] * 5
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in [pid, *workers]):
            time.sleep(0.2)
        assert not any(alive(p) for p in [pid, *workers]), log.read_text()[-2000:]
