"""`dealchat users add`: create a user with a password and an authenticator (TOTP); account
recovery on the host; second factor resets that a second administrator approves (a token)."""

from __future__ import annotations

from typing import Annotated

import segno
import typer
from sqlalchemy.orm import Session

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires, step_up
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import accounts, enrolment, factors, federation, management
from dealchat.identity.service import create_user, totp_secret

app = typer.Typer(no_args_is_help=True, help="Users: create and manage accounts.")


@app.command("add")
@host_operator("creates accounts on the host's database: the first users exist before any token")
def add(
    username: Annotated[str, typer.Option(help="3-64 characters: a-z 0-9 . _ -")],
    kind: Annotated[str, typer.Option(help="internal (bank staff) or external (client)")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="15-128 chars for staff, 8-128 for clients.",
        ),
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
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="15-128 chars for staff, 8-128 for clients.",
        ),
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


@app.command("enrol-totp")
@host_operator("enrols an authenticator on the host (shows the QR once, needs a valid code)")
def enrol_totp(
    username: Annotated[str, typer.Argument(help="the user")],
    link: Annotated[
        bool, typer.Option("--link", help="Print a single-use enrolment link for the user instead.")
    ] = False,
) -> None:
    """Enrol a new authenticator: shows a QR code, and needs one valid code to finish."""
    try:
        with platform() as built:
            with unit_of_work(built.sessions) as session:
                shown = enrolment.begin(
                    session,
                    sealer=built.desk.sealer,
                    username=username,
                    issuer=built.settings.auth.totp_issuer,
                    actor="cli",
                    now=utcnow(),
                )
                token = _enrolment_link(session, built, shown.id) if link else None
            if token is not None:
                typer.echo(f"{built.settings.public_url}/enrol/{token}")
                return
            _finish_interactively(built, shown)
    except DealchatError as error:
        raise _fail(error) from error


def _enrolment_link(session: Session, built: Platform, enrolment_id: str) -> str:
    return enrolment.link(
        session, enrolment_id=enrolment_id, policy=built.desk.policy, now=utcnow()
    )


def _finish_interactively(built: Platform, shown: enrolment.Enrolment) -> None:
    segno.make(shown.uri, error="m").terminal(compact=True)
    typer.echo(shown.uri)
    for _ in range(enrolment.MAX_TRIES):
        code = typer.prompt("Code from the app")
        with unit_of_work(built.sessions) as session:
            done = enrolment.finish(
                session,
                sealer=built.desk.sealer,
                enrolment_id=shown.id,
                code=code,
                policy=built.desk.policy.lockout,
                now=utcnow(),
            )
        if done:
            typer.echo(f"authenticator enrolled for {shown.username}")
            return
        typer.echo("that code did not match; try the newest one", err=True)
    raise typer.Exit(1)


@app.command("set-phone")
@host_operator("sets the SMS number on the host; a factor change ends every session")
def set_phone(
    username: Annotated[str, typer.Argument(help="the user")],
    phone: Annotated[str, typer.Argument(help="E.164 number for SMS codes, e.g. +447700900123")],
) -> None:
    """Set the number SMS codes go to."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            accounts.set_phone(session, username=username, phone=phone, actor="cli")
    except DealchatError as error:
        raise _fail(error) from error
    typer.echo(f"phone set for {username}")


@app.command("link-oidc")
@host_operator("binds an account to an (issuer, subject) on the host; audited")
def link_oidc(
    username: Annotated[str, typer.Argument(help="an internal user")],
    subject: Annotated[str, typer.Argument(help="the user's `sub` at the bank's OpenID provider")],
    issuer: Annotated[
        str | None, typer.Option(help="the provider (default: DEALCHAT_OIDC__ISSUER)")
    ] = None,
) -> None:
    """Let an internal user log in through the bank's OpenID provider as (issuer, subject)."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            chosen = issuer or built.settings.oidc.issuer
            if not chosen:
                raise DealchatError(ErrorCode.BAD_REQUEST, "no issuer: --issuer or settings")
            user = accounts.find_user(session, username)
            try:
                federation.link(session, user=user, issuer=chosen, subject=subject, actor="cli")
            except federation.FederationError as refused:
                raise DealchatError(ErrorCode.BAD_REQUEST, "only internal users") from refused
    except DealchatError as error:
        raise _fail(error) from error
    typer.echo(f"linked {username} to {subject} at {chosen}")


@app.command("request-factor-reset")
@requires(Right.USER_MANAGE)
def request_factor_reset(
    username: Annotated[str, typer.Argument(help="the user")],
    reason: Annotated[str, typer.Option(help="why (3-500 characters)")],
    token: TokenOption,
    factor: Annotated[str, typer.Option(help="totp (the authenticator) or sms")] = "totp",
) -> None:
    """Ask for a user's second factor to be removed; another administrator approves."""
    with acting(token, Right.USER_MANAGE, "users request-factor-reset") as (built, session, actor):
        row = management.request_reset(
            session,
            actor=actor,
            username=username,
            factor=factor,
            reason=reason,
            now=built.desk.clock(),
        )
        typer.echo(f"factor reset {row.id} requested; another administrator approves")


def _decide_reset(reset_id: str, token: str, *, approve: bool) -> None:
    operation = "users approve-factor-reset" if approve else "users refuse-factor-reset"
    with acting(token, Right.USER_MANAGE, operation) as (built, session, actor):
        found = management.find_reset(session, reset_id)
        typer.echo(f"{found.state}: {found.username}")
        content = management.reset_hash(session, found.id)
        step_up(built, session, actor, content_hash=content, operation=operation)
        row = management.decide_reset(
            session, actor=actor, reset_id=found.id, approve=approve, now=built.desk.clock()
        )
        typer.echo(f"factor reset {row.id} is {row.state}")


@app.command("approve-factor-reset")
@requires(Right.USER_MANAGE)
def approve_factor_reset(reset_id: str, token: TokenOption) -> None:
    """Remove the factor (every session of the user ends); not by the one who asked; step-up."""
    _decide_reset(reset_id, token, approve=True)


@app.command("refuse-factor-reset")
@requires(Right.USER_MANAGE)
def refuse_factor_reset(reset_id: str, token: TokenOption) -> None:
    _decide_reset(reset_id, token, approve=False)
