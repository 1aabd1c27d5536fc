"""`dealchat matrix check`: the Matrix bot's settings and login, without starting it."""

from __future__ import annotations

import asyncio

import typer

from dealchat.channels.matrix.check import check as check_login
from dealchat.cli.guard import host_operator
from dealchat.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The Matrix bot.")


@app.command("check")
@host_operator("checks the Matrix homeserver connection from the host")
def check() -> None:
    """Log in to the homeserver as the bot (DEALCHAT_MATRIX__*) and say what it sees."""
    settings = Settings()
    if not settings.matrix.enabled:
        typer.echo("matrix: off (set DEALCHAT_MATRIX__HOMESERVER_URL and DEALCHAT_MATRIX__USER_ID)")
        raise typer.Exit(2)
    result = asyncio.run(check_login(settings.matrix, settings.data_dir / "matrix"))
    for line in result.lines:
        typer.echo(line, err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)
