"""Edge and core as two real processes (`dealchat serve --role edge|core`, uvicorn on free
ports) with a local Slack API: `running_split` starts both, waits until each is healthy and stops
them; the test holds the edge's key to craft envelopes of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dealchat.channels.link import Link, load_or_create_identity
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.slack import wire

DEALCHAT = Path(sys.executable).parent / "dealchat"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Split:
    edge_url: str
    core_url: str
    slack_api: PlatformServer
    edge_link: Link  # the test holds the edge's key to craft envelopes of its own
    core_dir: Path  # the core's DEALCHAT_DATA_DIR
    core_log: Path  # its stderr: the JSON access log


def _start(role: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [str(DEALCHAT), "serve", "--role", role, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not start: {log.read_text()[-3000:]}")


@contextmanager
def running_split(
    database_url: str,
    tmp_path: Path,
    *,
    core_extra: dict[str, str] | None = None,
    edge_extra: dict[str, str] | None = None,
) -> Iterator[Split]:
    edge_dir, core_dir = tmp_path / "edge", tmp_path / "core"
    edge_id = load_or_create_identity(edge_dir / "keys" / "link", "edge")
    core_id = load_or_create_identity(core_dir / "keys" / "link", "core")
    edge_port, core_port = _free_port(), _free_port()
    edge_url, core_url = f"http://127.0.0.1:{edge_port}", f"http://127.0.0.1:{core_port}"
    with platform_server(
        {"/api/chat.postMessage": lambda call: Answer(body={"ok": True})}
    ) as slack_api:
        common = {
            **os.environ,
            "DEALCHAT_PUBLIC_URL": edge_url,  # secure links point at the edge
            "DEALCHAT_CHANNELS__SLACK__ENABLED": "true",
            "DEALCHAT_CHANNELS__SLACK__API_URL": f"{slack_api.url}/api",
            "DEALCHAT_CHANNELS__SLACK__SIGNING_SECRET": wire.SECRET,
            "DEALCHAT_CHANNELS__SLACK__BOT_TOKEN": wire.TOKEN,
        }
        core_env = {
            **common,
            "DEALCHAT_DATA_DIR": str(core_dir),
            "DEALCHAT_DATABASE_URL": database_url,
            "DEALCHAT_CHANNELS__LINK__PEER_CERTIFICATE": str(edge_dir / "keys/link/edge.crt"),
            **(core_extra or {}),
        }
        edge_env = {
            **common,
            "DEALCHAT_DATA_DIR": str(edge_dir),
            "DEALCHAT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "DEALCHAT_CHANNELS__LINK__CORE_URL": core_url,
            "DEALCHAT_CHANNELS__LINK__PEER_CERTIFICATE": str(core_dir / "keys/link/core.crt"),
            **(edge_extra or {}),
        }
        core = _start("core", core_port, core_env, tmp_path / "core.log")
        edge = _start("edge", edge_port, edge_env, tmp_path / "edge.log")
        try:
            _wait_healthy(core_url, core, tmp_path / "core.log")
            _wait_healthy(edge_url, edge, tmp_path / "edge.log")
            link = Link(edge_id, core_id.certificate, role="edge", peer_role="core")
            yield Split(edge_url, core_url, slack_api, link, core_dir, tmp_path / "core.log")
        finally:
            for process in (edge, core):
                process.terminate()
                process.wait(timeout=20)


def slack_replies(split: Split, count: int) -> list[str]:
    """The texts the core sent to Slack, once there are at least `count` of them."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        texts = [call.json()["text"] for call in split.slack_api.calls]
        if len(texts) >= count:
            return texts
        time.sleep(0.1)
    pytest.fail(f"the core delivered {len(split.slack_api.calls)} of {count} replies")
