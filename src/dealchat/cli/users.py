"""`dealchat users add`: create a user with a password and an authenticator (TOTP)."""

from __future__ import annotations

from typing import Annotated

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import accounts, factors
from dealchat.identity.service import create_user, totp_secret

app = typer.Typer(no_args_is_help=True, help="Users: create and manage accounts.")


@app.command("add")
@host_operator("creates accounts on the host's database: the first users exist before any token")
def add(
    username: Annotated[str, typer.Option(help="3-64 characters: a-z 0-9 . _ -")],
    kind: Annotated[str, typer.Option(help="internal (bank staff) or external (client)")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="8-128 chars."),
    ],
    totp_secret_b32: Annotated[
        str | None, typer.Option("--totp-secret", help="Base32 TOTP secret (else one is made).")
    ] = None,
) -> None:
    """Create a user; prints the otpauth:// URI to enrol an authenticator app."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            user = create_user(
                session,
                sealer=built.desk.sealer,
                username=username,
                password=password,
                kind=kind,
                totp_secret=totp_secret_b32,
                actor="cli",
            )
            secret = totp_secret(built.desk.sealer, user)
            issuer = built.settings.auth.totp_issuer
    except DealchatError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"created {user.kind} user {user.username}")
    typer.echo(factors.provisioning_uri(secret, username=user.username, issuer=issuer))


def _fail(error: DealchatError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    return typer.Exit(2)


@app.command("set-password")
@host_operator("account recovery on the host: ends every session and token of the user")
def set_password(
    username: Annotated[str, typer.Argument(help="the user")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="8-128 chars."),
    ],
) -> None:
    """Set a user's password (the rules apply); ends the user's chat sessions."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            accounts.set_password(
                session, username=username, password=password, actor="cli", now=utcnow()
            )
    except DealchatError as error:
        raise _fail(error) from error
    typer.echo(f"password set for {username}")


@app.command("unlock")
@host_operator("account recovery on the host (audited user:unlocked)")
def unlock(username: Annotated[str, typer.Argument(help="the user")]) -> None:
    """Clear a user's failed-login count, delay and lock."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            accounts.unlock(session, username=username, actor="cli", now=utcnow())
    except DealchatError as error:
        raise _fail(error) from error
    typer.echo(f"unlocked {username}")
