"""`dealchat networks`: the trusted networks (CIDR, IPv4 or IPv6) where internal users log in
without the second factor (never external users, never a confirmation)."""

from __future__ import annotations

from typing import Annotated

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import networks

app = typer.Typer(no_args_is_help=True, help="Trusted networks: add, list, remove CIDR ranges.")


def _fail(error: DealchatError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    return typer.Exit(2)


@app.command("add")
@host_operator("trusted networks on the host; to move behind requires(Right.NETWORK_MANAGE)")
def add(
    cidr: Annotated[str, typer.Argument(help="e.g. 10.20.0.0/16 or 2001:db8:aa::/48")],
    label: Annotated[str, typer.Option(help="what the range is, e.g. 'London office'")] = "",
) -> None:
    """Trust a range (audited)."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            row = networks.add(session, cidr=cidr, label=label, actor="cli", now=utcnow())
            shown = row.cidr
    except DealchatError as error:
        raise _fail(error) from error
    typer.echo(f"trusted {shown}")


@app.command("list")
@host_operator("read-only list of trusted networks on the host")
def list_() -> None:
    """Every trusted range, its label, when and by whom it was added."""
    with platform() as built, unit_of_work(built.sessions) as session:
        for row in networks.listed(session):
            typer.echo(f"{row.cidr}\t{row.label}\t{row.created_at.isoformat()}\t{row.created_by}")


@app.command("remove")
@host_operator("trusted networks on the host; to move behind requires(Right.NETWORK_MANAGE)")
def remove(cidr: Annotated[str, typer.Argument(help="the range, as listed")]) -> None:
    """Stop trusting a range (audited)."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            networks.remove(session, cidr=cidr, actor="cli")
    except DealchatError as error:
        raise _fail(error) from error
    typer.echo(f"removed {cidr}")
