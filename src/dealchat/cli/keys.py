"""`dealchat keys rotate-kek`: a new key-encryption key; every data key re-wrapped under it."""

from __future__ import annotations

import json

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.db.session import unit_of_work

app = typer.Typer(no_args_is_help=True, help="Encryption keys at rest.")


@app.command("rotate-kek")
@host_operator("key custody: needs the key files on the host, not a user's rights")
def rotate_kek(
    retire: bool = typer.Option(
        False, "--retire", help="destroy the old KEK versions once nothing needs them"
    ),
) -> None:
    """Re-wrap every live data key under a new KEK version; no content is rewritten."""
    with platform() as built:
        envelope = built.desk.envelope
        with unit_of_work(built.sessions) as session:
            rotation = envelope.rotate_kek(session, actor="cli:keys")
        retired: list[str] = []
        if retire:
            with unit_of_work(built.sessions) as session:
                needed = envelope.kek_in_use(session)
            for kek_id in rotation.previous:
                if kek_id not in needed:
                    envelope.kek.retire(kek_id)
                    retired.append(kek_id)
    report = {
        "kek": rotation.kek_id,
        "rewrapped": rotation.rewrapped,
        "previous": list(rotation.previous),
        "retired": retired,
    }
    typer.echo(json.dumps(report))
