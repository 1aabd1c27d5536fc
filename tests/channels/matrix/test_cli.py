"""`dealchat matrix check` and `dealchat serve` with the Matrix bot, against the real Synapse."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from typer.testing import CliRunner

from dealchat.cli.main import app
from tests.channels.matrix.conftest import Cast
from tests.channels.matrix.synapse import Synapse, free_port

LINK = re.compile(r"https?://\S+/link/\S+")


def _matrix_env(synapse: Synapse, cast: Cast, tmp_path: Path, password: str) -> dict[str, str]:
    secret = tmp_path / "matrix-password"
    secret.write_text(password, encoding="utf-8")
    secret.chmod(0o600)
    return {
        "DEALCHAT_DATA_DIR": str(tmp_path / "var"),
        "DEALCHAT_DATABASE_URL": f"sqlite:///{tmp_path / 'dealchat.db'}",
        "DEALCHAT_MATRIX__HOMESERVER_URL": synapse.url,
        "DEALCHAT_MATRIX__USER_ID": cast.bot.user_id,
        "DEALCHAT_MATRIX__PASSWORD_FILE": str(secret),
        "DEALCHAT_MATRIX__ALLOWED_USERS": f'["{cast.client.user_id}"]',
        "DEALCHAT_MATRIX__SYNC_TIMEOUT_SECONDS": "5",
    }


def test_matrix_check_logs_in_and_says_who_and_where(
    synapse: Synapse, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _matrix_env(synapse, cast, tmp_path, cast.bot.password).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["matrix", "check"])
    assert result.exit_code == 0, result.output
    assert f"logged in to {synapse.url} as {cast.bot.user_id}" in result.output
    assert "in 0 rooms" in result.output
    assert cast.client.user_id in result.output
    assert cast.bot.password not in result.output
    assert (tmp_path / "var" / "matrix" / "session.json").stat().st_mode & 0o777 == 0o600


def test_matrix_check_with_a_wrong_password_fails_without_printing_it(
    synapse: Synapse, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-password-for-the-bot"
    for name, value in _matrix_env(synapse, cast, tmp_path, wrong).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["matrix", "check"])
    assert result.exit_code == 1
    assert "cannot log in" in result.output
    assert "M_FORBIDDEN" in result.output
    assert wrong not in result.output


def test_matrix_check_says_when_matrix_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["matrix", "check"])
    assert result.exit_code == 2
    assert "DEALCHAT_MATRIX__HOMESERVER_URL" in result.output


@contextlib.contextmanager
def _serving(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "dealchat.cli.main", "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        assert process.poll() is None, log.read_text(encoding="utf-8")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_runs_the_bot_and_its_link_leads_to_the_served_page(
    synapse: Synapse, cast: Cast, tmp_path: Path
) -> None:
    env = _matrix_env(synapse, cast, tmp_path, cast.bot.password)
    port = free_port()
    log = tmp_path / "serve.log"
    with _serving(env, port, log) as url:
        room_id = cast.client.create_room(invite=[cast.bot.user_id])
        assert cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite") == "join"
        answer = cast.client.ask(room_id, "mkt eurusd 100k")
        found = LINK.search(answer)
        assert found, answer
        assert found.group(0).startswith(f"{url}/link/")
        page = httpx.get(f"{url}{urlparse(found.group(0)).path}", timeout=10)
        assert page.status_code == 200
        assert 'name="password"' in page.text
    output = log.read_text(encoding="utf-8")
    assert cast.bot.password not in output
    stored = json.loads((tmp_path / "var" / "matrix" / "session.json").read_text(encoding="utf-8"))
    assert stored["access_token"] not in output
    assert urlparse(found.group(0)).path not in output  # the link's token is never logged
