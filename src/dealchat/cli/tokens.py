"""`dealchat tokens ...`: API tokens (issue, list, revoke) and ending all of a user's sessions."""

from __future__ import annotations

import datetime as dt
import json

import typer

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.cli.guard import TokenOption, acting, requires
from dealchat.identity import sessions

app = typer.Typer(no_args_is_help=True, help="API tokens and sessions.")


@app.command("issue")
@requires(Right.USER_MANAGE)
def issue(username: str, token: TokenOption, name: str = "cli", days: int | None = None) -> None:
    """A new API token for USERNAME, printed once (only its hash is kept)."""
    with acting(token, Right.USER_MANAGE, "tokens issue") as (built, session, actor):
        row, secret = sessions.issue_token(
            session,
            user=access.user_named(session, username),
            name=name,
            by=actor.audit_name,
            policy=built.session_policy,
            now=built.desk.clock(),
            lifetime=dt.timedelta(days=days) if days else None,
        )
        typer.echo(f"token {row.id} for {username}, expires {row.expires_at.isoformat()}")
        typer.echo(secret)


@app.command("list")
@requires(Right.USER_MANAGE)
def list_tokens(token: TokenOption, user: str | None = None) -> None:
    with acting(token, Right.USER_MANAGE, "tokens list") as (_, session, _actor):
        user_id = access.user_named(session, user).id if user else None
        for row in sessions.tokens(session, user_id=user_id):
            view = {
                "id": row.id,
                "user_id": row.user_id,
                "name": row.name,
                "expires_at": row.expires_at.isoformat(),
                "revoked": row.revoked_at is not None,
            }
            typer.echo(json.dumps(view, sort_keys=True))


@app.command("revoke")
@requires(Right.USER_MANAGE)
def revoke(token_id: str, token: TokenOption) -> None:
    with acting(token, Right.USER_MANAGE, "tokens revoke") as (built, session, actor):
        sessions.revoke_token(
            session, token_id=token_id, by=actor.audit_name, now=built.desk.clock()
        )
    typer.echo(f"revoked {token_id}")


@app.command("revoke-all")
@requires(Right.USER_MANAGE)
def revoke_all(
    username: str, token: TokenOption, reason: str = "revoked by an administrator"
) -> None:
    """End every console session and API token of USERNAME."""
    with acting(token, Right.USER_MANAGE, "tokens revoke-all") as (built, session, _actor):
        user = access.user_named(session, username)
        count = sessions.revoke_all(session, user_id=user.id, reason=reason, now=built.desk.clock())
    typer.echo(f"revoked {count} sessions and tokens of {username}")
