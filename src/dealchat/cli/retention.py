"""`dealchat retention run` and legal holds: `hold set`, `hold lift`, `hold list`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer

from dealchat.access import counting
from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.conversations import erasure
from dealchat.conversations.holds import scopes_for_hold
from dealchat.db.session import unit_of_work
from dealchat.identity import lockout, spent
from dealchat.identity.lockout import LockoutPolicy
from dealchat.records import reports_links, retention
from dealchat.records.chain import canonical_json
from dealchat.records.retention_models import LegalHold
from dealchat.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Retention classes and legal holds.")
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds: they win over expiry.")
app.add_typer(hold_app, name="hold")

ACTOR = "cli:retention"


def policy_of(settings: Settings) -> retention.RetentionPolicy:
    years = settings.retention
    return retention.RetentionPolicy(
        {
            "chat": years.chat_years,
            "orders": years.orders_years,
            "access_logs": years.access_logs_years,
        }
    )


def _moment(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2033-01-01T00:00:00+00:00")
    return moment.astimezone(dt.UTC)


def sweeps(settings: Settings, lockout_policy: LockoutPolicy) -> dict[str, retention.Sweep]:
    """What `retention run` deletes or clears besides expired content: personal data past its
    purpose, in this order (the erased conversations' identifiers before the identities they
    free)."""
    grace = dt.timedelta(days=settings.retention.spent_rows_days)
    return {
        "login_sources": lambda session, now: lockout.purge(
            session, policy=lockout_policy, now=now
        ),
        **spent.sweeps(grace),
        "report_links": lambda session, now: reports_links.purge(session, grace=grace, now=now),
        "rate_windows": counting.purge,
        **erasure.sweeps(settings.retention.chat_years),
    }


@app.command("run")
@host_operator("the scheduled erasure job, run by the host")
def run(
    now: str | None = typer.Option(None, help="act as if it were this instant (ISO 8601)"),
) -> None:
    """Erase content whose retention period ended and no legal hold covers; print JSON."""
    with platform() as built, unit_of_work(built.sessions) as session:
        report = retention.run(
            session,
            envelope=built.desk.envelope,
            policy=policy_of(built.settings),
            resolve=scopes_for_hold,
            sweeps=sweeps(built.settings, built.desk.policy.lockout),
            now=_moment(now),
            actor=ACTOR,
        )
    typer.echo(canonical_json(report))


@hold_app.command("set")
@host_operator("legal hold on the host; to move behind requires(Right.LEGAL_HOLD_MANAGE)")
def hold_set(
    reason: str = typer.Option(..., help="why (audited)"),
    client: str | None = typer.Option(None, help="a client's user id"),
    user: str | None = typer.Option(None, help="an internal user's id (keeps their access log)"),
    conversation: str | None = typer.Option(None, help="a conversation id"),
    order: str | None = typer.Option(None, help="an order id or reference"),
) -> None:
    """Put exactly one client, user, conversation or order on legal hold."""
    given = (("client", client), ("user", user), ("conversation", conversation), ("order", order))
    named = [(k, v) for k, v in given if v]
    if len(named) != 1:
        raise typer.BadParameter("name exactly one of --client, --user, --conversation, --order")
    kind, target = named[0]
    with platform() as built, unit_of_work(built.sessions) as session:
        try:
            hold = retention.set_hold(
                session, kind=kind, target=target, reason=reason, actor=ACTOR, now=_moment(None)
            )
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
        typer.echo(json.dumps(_hold_json(hold)))


@hold_app.command("lift")
@host_operator("legal hold on the host; to move behind requires(Right.LEGAL_HOLD_MANAGE)")
def hold_lift(hold_id: str, reason: str = typer.Option(..., help="why (audited)")) -> None:
    """Lift an active legal hold."""
    with platform() as built, unit_of_work(built.sessions) as session:
        try:
            hold = retention.lift_hold(
                session, hold_id=hold_id, reason=reason, actor=ACTOR, now=_moment(None)
            )
        except (LookupError, ValueError) as error:
            typer.echo(str(error).strip("'\""), err=True)
            raise typer.Exit(1) from error
        typer.echo(json.dumps(_hold_json(hold)))


@hold_app.command("list")
@host_operator("legal holds on the host; to move behind requires(Right.LEGAL_HOLD_MANAGE)")
def hold_list() -> None:
    """The active legal holds, as JSON lines."""
    with platform() as built, unit_of_work(built.sessions) as session:
        for hold in retention.active_holds(session):
            typer.echo(json.dumps(_hold_json(hold)))


def _hold_json(hold: LegalHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "kind": hold.kind,
        "target": hold.target,
        "reason": hold.reason,
        "set_by": hold.set_by,
        "set_at": hold.set_at.isoformat(),
        "lifted_at": None if hold.lifted_at is None else hold.lifted_at.isoformat(),
        "lift_reason": hold.lift_reason,
    }
