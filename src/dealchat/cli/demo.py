"""`dealchat demo`: demo users on SQLite, their logins and authenticator secrets, then serve."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import typer
import yaml
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.cli.common import ending_on_signals, platform
from dealchat.cli.demo_access import seed_access
from dealchat.cli.guard import host_operator
from dealchat.cli.serve import HostOption, PortOption, run, settings_for
from dealchat.controls.definitions import parse_rates
from dealchat.controls.service import shipped_text
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.documents.clamav import ClamdScanner
from dealchat.documents.local_clamd import (
    STREAM_MAX_BYTES,
    ClamdStartError,
    clamd_binary,
    local_clamd,
)
from dealchat.documents.scanners import NOT_CONFIGURED
from dealchat.identity import factors
from dealchat.identity.models import User
from dealchat.identity.service import create_user
from dealchat.settings import Settings

DEMO_USERS = (
    ("admin", "internal"),
    ("dealer", "internal"),
    ("rita", "internal"),
    ("compliance", "internal"),
    ("alice", "external"),
    ("bob", "external"),
)


@host_operator("seeds demo users on the host's database, then serves")
def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    serve: bool = typer.Option(True, help="Start the server after seeding."),
) -> None:
    """Create the demo users (once), print their logins and TOTP secrets, then serve."""
    settings = with_demo_rates(settings_for(host, port), now=utcnow())
    with ending_on_signals():
        with platform(settings) as built:
            credentials = seed(built)
        _print(credentials, settings.public_url, settings.auth.totp_issuer)
        if serve:
            with demo_scanner(settings) as (scanning, message):
                typer.echo(message + "\n")
                run(scanning, host, port)


@contextmanager
def demo_scanner(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """The settings to serve with and a line saying how uploads are scanned: the configured
    clamd, else a local clamd (when installed) on the project's signatures, else none."""
    if settings.documents.clamd is not None:
        yield settings, f"Uploads are scanned by clamd at {settings.documents.clamd}."
        return
    if clamd_binary() is None:
        yield (
            settings,
            f"Uploads are refused: clamd is not installed (make clamav). {NOT_CONFIGURED}.",
        )
        return
    with ExitStack() as stack:
        try:
            address = stack.enter_context(
                local_clamd(settings.data_dir / "clamd", stream_max_bytes=STREAM_MAX_BYTES)
            )
        except ClamdStartError as error:
            yield settings, f"Uploads are refused: the local clamd did not start. {error}"
            return
        documents = settings.documents.model_copy(update={"clamd": str(address)})
        engine = ClamdScanner(address).version()
        message = (
            f"Uploads are scanned by a local clamd ({engine}) at {address},\n"
            "on the project's test signatures only: they detect the EICAR test file and nothing\n"
            "else. Production sets DEALCHAT_DOCUMENTS__CLAMD to the bank's clamd, kept current\n"
            "by freshclam."
        )
        yield settings.model_copy(update={"documents": documents}), message


def with_demo_rates(settings: Settings, *, now: dt.datetime) -> Settings:
    """The shipped demo fixing, stated as of `now` (each start of the demo is its morning load)
    in data_dir/demo-rates.yaml, so `rate-known` finds fresh rates as on a real desk. A rates file
    the operator named is theirs and is left alone."""
    if settings.controls.rates_file is not None:
        return settings
    shipped = parse_rates(shipped_text("rates.yaml"))
    stated = shipped.model_copy(
        update={"rates": tuple(r.model_copy(update={"as_of": now}) for r in shipped.rates)}
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = settings.data_dir / "demo-rates.yaml"
    text = yaml.safe_dump(stated.model_dump(mode="json"), sort_keys=False)
    path.write_text(
        f"# The demo fixing, restated by `dealchat demo` at each start.\n{text}", "utf-8"
    )
    controls = settings.controls.model_copy(update={"rates_file": path})
    return settings.model_copy(update={"controls": controls})


def seed(built: Platform) -> list[dict[str, str]]:
    """Demo users with random passwords, kept (0600) in data_dir so a re-run prints them again."""
    path = built.settings.data_dir / "demo-credentials.json"
    known = _load(path)
    with unit_of_work(built.sessions) as session:
        for username, kind in DEMO_USERS:
            exists = session.scalar(select(User.id).where(User.username == username))
            if exists is not None and username in known:
                continue
            if exists is not None:
                continue  # made by hand earlier: its password is not ours to print
            entry = {
                "username": username,
                "kind": kind,
                "password": secrets.token_urlsafe(12),
                "totp_secret": factors.new_totp_secret(),
            }
            create_user(
                session,
                sealer=built.desk.sealer,
                username=username,
                password=entry["password"],
                kind=kind,
                totp_secret=entry["totp_secret"],
                actor="demo",
            )
            known[username] = entry
    seed_access(built, known)
    _save(path, known)
    return [known[name] for name, _ in DEMO_USERS if name in known]


def _load(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    loaded: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _save(path: Path, known: dict[str, dict[str, str]]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(known, handle, indent=2)
    path.chmod(0o600)


def _print(credentials: list[dict[str, str]], url: str, issuer: str) -> None:
    typer.echo(f"dealchat demo on {url}/  (web chat)\n")
    for entry in credentials:
        uri = factors.provisioning_uri(
            entry["totp_secret"], username=entry["username"], issuer=issuer
        )
        typer.echo(f"  {entry['kind']:8} {entry['username']:10} password {entry['password']}")
        typer.echo(f"           TOTP secret {entry['totp_secret']}")
        typer.echo(f"           {uri}")
        if "api_token" in entry:
            typer.echo(f"           API token (DEALCHAT_TOKEN) {entry['api_token']}")
    typer.echo(
        "\nAdd a secret to an authenticator app, or print the current code with\n"
        "  .venv/bin/python -c 'import pyotp,sys; print(pyotp.TOTP(sys.argv[1]).now())' SECRET\n"
        "These demo credentials are kept in the data directory (mode 0600); demo use only.\n"
    )
