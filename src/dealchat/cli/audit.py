"""`dealchat audit verify`: walk the audit log and name the first entry that fails."""

from __future__ import annotations

import typer

from dealchat.cli.common import platform
from dealchat.db.session import unit_of_work
from dealchat.records.service import verify as verify_log

app = typer.Typer(no_args_is_help=True, help="The audit log.")


@app.command("verify")
def verify() -> None:
    """Exit 0 when every entry verifies; exit 1 naming the first bad entry otherwise."""
    with platform() as built, unit_of_work(built.sessions) as session:
        result = verify_log(session)
    if result.ok:
        typer.echo(f"audit log OK: {result.checked} entries verified")
        return
    typer.echo(f"audit log FAILED at entry {result.first_bad_seq}: {result.problem}", err=True)
    raise typer.Exit(1)
