"""`dealchat directory sync [--full]`: internal users and their roles from the directory (LDAP/AD,
`DEALCHAT_DIRECTORY__*`), every change audited; see `identity.directory`."""

from __future__ import annotations

from typing import Annotated

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.identity import directory

app = typer.Typer(no_args_is_help=True, help="Directory sync: users and roles from LDAP/AD.")


@app.command("sync")
@host_operator("reads the directory with the host's bind secret and changes users; audited")
def sync(
    full: Annotated[
        bool, typer.Option("--full", help="read every user (finds deletions), not only changes")
    ] = False,
) -> None:
    """One run: a delta since the last (uSNChanged), or everything with --full."""
    with platform() as built:
        settings = built.settings.directory
        if not settings.enabled:
            typer.echo(
                "error: the directory is not configured (DEALCHAT_DIRECTORY__ENABLED)", err=True
            )
            raise typer.Exit(2)
        try:
            with unit_of_work(built.sessions) as session:
                report = directory.sync(session, settings=settings, full=full, now=utcnow())
        except directory.DirectoryError as error:
            typer.echo(
                f"error: the directory could not be read ({error}); nothing changed", err=True
            )
            raise typer.Exit(1) from error
    counts = report.counts()
    typer.echo(
        " ".join(
            f"{name} {counts[name]}"
            for name in (
                "read",
                "created",
                "updated",
                "disabled",
                "enabled",
                "roles_added",
                "roles_removed",
                "conflicts",
            )
        )
        + (" (full)" if report.full else " (delta)")
    )
