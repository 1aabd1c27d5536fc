"""`dealchat directory sync [--full]`: internal users and their roles from the directory (LDAP/AD,
`DEALCHAT_DIRECTORY__*`), every change audited; see `identity.directory`. `propose-mapping`,
`approve-mapping`, `refuse-mapping`, `mappings`: which group gives which role, a change in force
once a second administrator (role:manage, step-up) approves it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from dealchat.access.rights import Right
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires, step_up
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import directory
from dealchat.identity.ldap_tls import DirectoryError
from dealchat.identity.models import DirectoryMapping

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
        except DirectoryError as error:
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


@app.command("propose-mapping")
@requires(Right.ROLE_MANAGE)
def propose_mapping(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help='JSON: {"group DN": "role"}')
    ],
    token: TokenOption,
    comment: Annotated[str, typer.Option(help="what changes and why")] = "",
) -> None:
    """A new version of the whole group-to-role mapping; another administrator must approve."""
    with acting(token, Right.ROLE_MANAGE, "directory propose-mapping") as (built, session, actor):
        try:  # read once the right is checked: a refusal says nothing about the file
            mapping = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as error:
            raise DealchatError(ErrorCode.BAD_REQUEST, f"not JSON: {error}") from error
        if not isinstance(mapping, dict):
            raise DealchatError(ErrorCode.BAD_REQUEST, 'a JSON object: {"group DN": "role"}')
        row = directory.propose_mapping(
            session,
            mapping={str(k): str(v) for k, v in mapping.items()},
            actor=actor,
            comment=comment,
            now=built.desk.clock(),
        )
        typer.echo(f"proposed mapping v{row.version} as {row.id}; another administrator approves")


def _decide(mapping_id: str, token: str, *, approve: bool) -> None:
    operation = "directory approve-mapping" if approve else "directory refuse-mapping"
    with acting(token, Right.ROLE_MANAGE, operation) as (built, session, actor):
        proposed = session.get(DirectoryMapping, mapping_id)
        if proposed is None:
            raise typer.BadParameter(f"no mapping version {mapping_id}")
        typer.echo(proposed.body)
        step_up(built, session, actor, content_hash=proposed.sha256, operation=operation)
        row = directory.decide_mapping(
            session, mapping_id=mapping_id, actor=actor, approve=approve, now=built.desk.clock()
        )
        typer.echo(f"mapping v{row.version} is {row.state}")


@app.command("approve-mapping")
@requires(Right.ROLE_MANAGE)
def approve_mapping(mapping_id: str, token: TokenOption) -> None:
    """Put a proposed mapping in force from the next sync (not by its proposer)."""
    _decide(mapping_id, token, approve=True)


@app.command("refuse-mapping")
@requires(Right.ROLE_MANAGE)
def refuse_mapping(mapping_id: str, token: TokenOption) -> None:
    _decide(mapping_id, token, approve=False)


@app.command("mappings")
@host_operator("prints the group-to-role mapping versions on the host")
def mappings() -> None:
    """Every version: id, state, who proposed and decided it, the mapping."""
    with platform() as built, unit_of_work(built.sessions) as session:
        for row in session.scalars(select(DirectoryMapping).order_by(DirectoryMapping.version)):
            typer.echo(
                f"v{row.version}\t{row.id}\t{row.state}\t{row.proposed_by}\t"
                f"{row.decided_by or '-'}\t{json.dumps(json.loads(row.body), sort_keys=True)}"
            )
