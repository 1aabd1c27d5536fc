"""A real Synapse homeserver for the tests: loopback, a free port, SQLite, generated config.

Synapse lives in its own virtualenv (`make synapse`, `.venv-synapse`) because its pins may clash
with ours; `DEALCHAT_TEST_SYNAPSE_PYTHON` points elsewhere. Registration only through the shared
secret admin API, no federation listener, rate limits relaxed so the suite is not throttled.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
SYNAPSE_PYTHON = Path(
    os.environ.get("DEALCHAT_TEST_SYNAPSE_PYTHON", ROOT / ".venv-synapse" / "bin" / "python")
)
SERVER_NAME = "localhost"
_RELAXED = {"per_second": 1000, "burst_count": 1000}


@dataclass(frozen=True)
class Account:
    user_id: str
    password: str
    access_token: str


@dataclass
class Synapse:
    url: str
    shared_secret: str
    admin: Account | None = None

    def register(self, localpart: str, *, admin: bool = False) -> Account:
        """A new account through the shared-secret registration API (HMAC-SHA1 over the nonce)."""
        password = secrets.token_urlsafe(16)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=10).json()["nonce"]
        parts = [nonce, localpart, password, "admin" if admin else "notadmin"]
        mac = hmac.new(self.shared_secret.encode(), "\0".join(parts).encode(), hashlib.sha1)
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        response = httpx.post(endpoint, json=body, timeout=30)
        response.raise_for_status()
        data = response.json()
        return Account(data["user_id"], password, data["access_token"])

    def override_ratelimit(self, user_id: str, *, per_second: int, burst_count: int) -> None:
        """Give one account its own message rate limit (the admin API)."""
        assert self.admin is not None
        response = httpx.post(
            f"{self.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            json={"messages_per_second": per_second, "burst_count": burst_count},
            headers={"Authorization": f"Bearer {self.admin.access_token}"},
            timeout=10,
        )
        response.raise_for_status()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(directory: Path, port: int, shared_secret: str) -> Path:
    """homeserver.yaml (JSON is YAML) for a loopback-only test server."""
    config = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(directory / "signing.key"),
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "bcrypt_rounds": 4,
        "rc_message": _RELAXED,
        "rc_registration": _RELAXED,
        "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
        "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
        "rc_joins_per_room": _RELAXED,
        "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
        "rc_admin_redaction": _RELAXED,
    }
    path = directory / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_synapse(directory: Path) -> Iterator[Synapse]:
    """Start Synapse, wait until its client API answers, register an admin, stop it afterwards."""
    shared_secret = secrets.token_urlsafe(24)
    port = free_port()
    config = write_config(directory, port, shared_secret)
    base = [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)]
    subprocess.run([*base, "--generate-keys"], check=True, capture_output=True, timeout=120)
    log = (directory / "synapse.log").open("wb")
    process = subprocess.Popen(base, stdout=log, stderr=subprocess.STDOUT)
    try:
        server = Synapse(f"http://127.0.0.1:{port}", shared_secret)
        _wait_until_up(server.url, process, directory / "synapse.log")
        server.admin = server.register("admin", admin=True)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"Synapse exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/_matrix/client/versions", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("Synapse did not answer within 120 s")
