"""Starts the real OpenID provider (tests/oidc/provider.mjs, npm oidc-provider) on a free port."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
IN_CI = os.environ.get("CI") == "true"


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_secret: str


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (make oidc installs it)"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return "tests/oidc/node_modules/oidc-provider is missing: run make oidc"
    return None


def _start(redirect_uri: str, algorithm: str) -> tuple[subprocess.Popen[str], OidcProvider]:
    secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "OIDC_CLIENT_SECRET": secret,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_ID_TOKEN_ALG": algorithm,
    }
    process = subprocess.Popen(
        ["node", str(HERE / "provider.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=60)
    if not line or not line[0].strip():
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        pytest.fail("the OpenID provider did not start")
    return process, OidcProvider(json.loads(line[0])["issuer"], secret)


@pytest.fixture
def oidc_provider_factory(settings: object) -> Iterator[Callable[[str], OidcProvider]]:
    problem = _missing()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    started: list[subprocess.Popen[str]] = []
    public_url = str(getattr(settings, "public_url", "http://127.0.0.1:8000"))

    def start(algorithm: str = "RS256") -> OidcProvider:
        process, provider = _start(f"{public_url}/auth/oidc/callback", algorithm)
        started.append(process)
        return provider

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def oidc_provider(oidc_provider_factory: Callable[[str], OidcProvider]) -> OidcProvider:
    return oidc_provider_factory("RS256")
