"""Who may run a command. Every command declares it in one line, under `@app.command(...)`:

    @requires(Right.ROLE_MANAGE)        # acts as the user of DEALCHAT_TOKEN / --token, audited
    @host_operator("why")               # runs with the host's rights (serve, migrations, bootstrap)

tests/cli/test_matrix.py walks every command and fails on an undeclared one. A guarded command
opens `acting(token, right, operation)`: the token's user must hold the right; the decision goes
to the access log (channel "cli"); a refusal exits with code 3.

What is level 2 over HTTP (approving a held order or a rule version) is level 2 here too:
`step_up` asks the acting user for the password and a fresh authenticator code, for exactly the
content shown, and grants and spends the same single-use proof the API uses.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.common import platform
from dealchat.errors import DealchatError
from dealchat.identity import service as identity
from dealchat.identity import sessions
from dealchat.identity.models import User

CLI_ACCESS = "__dealchat_cli_access__"
EXIT_DENIED = 3
EXIT_ERROR = 2
F = TypeVar("F", bound=Callable[..., object])


def cli_source() -> str:
    """The command line's source for lockout and the access log: the host's operating-system
    account (`host:<name>`), so each operator's failures count in a bucket of their own."""
    try:
        return f"host:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name for this uid
        return "host"


TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="DEALCHAT_TOKEN",
        help="API token of the acting user (or DEALCHAT_TOKEN).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class CliAccess:
    right: Right | None
    host_reason: str | None = None


def requires(right: Right) -> Callable[[F], F]:
    def mark(command: F) -> F:
        setattr(command, CLI_ACCESS, CliAccess(right))
        return command

    return mark


def host_operator(reason: str) -> Callable[[F], F]:
    def mark(command: F) -> F:
        setattr(command, CLI_ACCESS, CliAccess(None, reason))
        return command

    return mark


def declared(command: Callable[..., object]) -> CliAccess | None:
    found: CliAccess | None = getattr(command, CLI_ACCESS, None)
    return found


@contextmanager
def acting(token: str, right: Right, operation: str) -> Iterator[tuple[Platform, Session, Actor]]:
    """The platform, one transaction and the acting user, once the decision allowed it."""
    context = access.AccessContext("cli", None, f"{operation} (os user {getpass.getuser()})")
    with platform() as built, built.sessions() as session:
        actor = _actor(session, built, token)
        why = None if actor is not None else "no valid token"
        decision = access.decide(
            session, actor=actor, right=right, context=context, denied_because=why
        )
        if actor is None or not decision:
            session.info.pop(access.DECISIONS_KEY, None)
            session.commit()
            typer.echo(
                f"denied: needs {right.value} (a valid token of a user holding it)", err=True
            )
            raise typer.Exit(EXIT_DENIED)
        try:
            yield built, session, actor
            session.commit()
        except DealchatError as error:
            access.rollback_keeping_decisions(session)
            session.commit()
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(EXIT_DENIED if error.http_status == 403 else EXIT_ERROR) from error


def step_up(
    built: Platform, session: Session, actor: Actor, *, content_hash: str, operation: str
) -> None:
    """Level 2: password and a fresh code of the token's own user, bound to `content_hash`.

    A failure is throttled and audited like any login (committed at once, so lockout counts it),
    and the command exits denied; nothing else happens.
    """
    typer.echo(f"Step-up for {operation} as {actor.username} (content sha256 {content_hash})")
    factors = sessions.Factors(
        password=typer.prompt("password", hide_input=True, err=True),
        otp=typer.prompt("authenticator code", err=True).strip(),
    )
    policy = built.desk.policy
    door = sessions.Door(built.desk.sealer, "cli", cli_source(), policy.lockout, policy.directory)
    if not sessions.prove_now(
        session,
        actor=actor,
        factors=factors,
        content_hash=content_hash,
        door=door,
        policy=built.session_policy,
        now=built.desk.clock(),
    ):
        context = access.AccessContext("cli", None, f"{operation} step-up")
        access.decide(session, actor=actor, right=None, context=context, denied_because="step-up")
        session.info.pop(access.DECISIONS_KEY, None)
        session.commit()
        typer.echo(f"denied: {identity.LOGIN_FAILED}", err=True)
        raise typer.Exit(EXIT_DENIED)


def _actor(session: Session, built: Platform, token: str) -> Actor | None:
    row = sessions.resolve_token(session, secret=token.strip(), now=built.desk.clock())
    user = session.get(User, row.user_id) if row is not None else None
    return access.actor_for(session, user, factors=("token",)) if user is not None else None
