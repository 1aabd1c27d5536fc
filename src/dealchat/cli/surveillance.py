"""`dealchat alerts ...` (the review queue) and `dealchat lexicon ...` (policies, backtest).

Commands that act for someone take `--as USERNAME`: an internal user whose roles (access roles in
the database) carry the rights the action needs; the action is audited under that user.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.service import actor_for, user_named
from dealchat.api.deps import Platform
from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.conversations.transcript import Transcript
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.surveillance import alerts as queue
from dealchat.surveillance import backtest as preview
from dealchat.surveillance import policies, store
from dealchat.surveillance.lexicon import Lexicon, Utterance

alerts_app = typer.Typer(no_args_is_help=True, help="Surveillance alerts: the review queue.")
lexicon_app = typer.Typer(
    no_args_is_help=True, help="Lexicon policies: validate, propose, approve."
)

AsUser = Annotated[str, typer.Option("--as", help="The internal user acting (audited).")]


@contextmanager
def acting(username: str) -> Iterator[tuple[Platform, Session, Actor]]:
    """The platform, one transaction, and the named internal user as an Actor."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            user = user_named(session, username)
            if user.kind != "internal":
                raise DealchatError(ErrorCode.FORBIDDEN, "only internal users act here")
            yield built, session, actor_for(session, user, factors=("cli",))
    except DealchatError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2 if error.http_status < 500 else 1) from error


def _echo(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@alerts_app.command("list")
@host_operator("read-only review queue on the host")
def list_(
    as_user: AsUser,
    status: Annotated[str | None, typer.Option(help="open, claimed, escalated or closed")] = None,
    mine: Annotated[bool, typer.Option(help="Only alerts assigned to me.")] = False,
    limit: int = 50,
) -> None:
    """The queue, newest first: one line per alert."""
    with acting(as_user) as (_, session, actor):
        rows = queue.list_alerts(
            session,
            actor=actor,
            status=status,
            assignee_id=actor.user_id if mine else None,
            limit=limit,
        )
        for alert in rows:
            typer.echo(
                f"{alert.id}  {alert.status:<9} {alert.severity:<6} {alert.category:<14} "
                f"{alert.policy}/{alert.rule}  {alert.subject}  {alert.raised_at:%Y-%m-%d %H:%M}"
            )


@alerts_app.command("show")
@host_operator("read-only alert on the host")
def show(alert_id: str, as_user: AsUser) -> None:
    """One alert as JSON: highlighted text, context messages and every reviewer action."""
    with acting(as_user) as (built, session, actor):
        view = queue.show(session, actor=actor, alert_id=alert_id, messages=Transcript(built.desk))
        _echo(view.as_json())


@alerts_app.command("claim")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def claim(alert_id: str, as_user: AsUser) -> None:
    with acting(as_user) as (_, session, actor):
        alert = queue.claim(session, actor=actor, alert_id=alert_id)
        typer.echo(f"{alert.id} claimed by {actor.username}")


@alerts_app.command("assign")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def assign(
    alert_id: str, assignee: str, as_user: AsUser, comment: Annotated[str, typer.Option()] = ""
) -> None:
    with acting(as_user) as (_, session, actor):
        alert = queue.assign(
            session, actor=actor, alert_id=alert_id, assignee=assignee, comment=comment
        )
        typer.echo(f"{alert.id} assigned to {assignee}")


@alerts_app.command("escalate")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def escalate(alert_id: str, as_user: AsUser, comment: Annotated[str, typer.Option()]) -> None:
    with acting(as_user) as (_, session, actor):
        alert = queue.escalate(session, actor=actor, alert_id=alert_id, comment=comment)
        typer.echo(f"{alert.id} escalated to level {alert.escalation_level}")


@alerts_app.command("close")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def close(
    alert_id: str,
    as_user: AsUser,
    disposition: Annotated[str, typer.Option(help=", ".join(d.value for d in queue.Disposition))],
    comment: Annotated[str, typer.Option()],
) -> None:
    with acting(as_user) as (_, session, actor):
        alert = queue.close(
            session, actor=actor, alert_id=alert_id, disposition=disposition, comment=comment
        )
        typer.echo(f"{alert.id} closed: {alert.disposition}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot read {path}: {error.strerror}", err=True)
        raise typer.Exit(2) from error


@lexicon_app.command("validate")
@host_operator("checks a lexicon file, no data")
def validate(path: Path) -> None:
    """Check a policy file; exit 2 listing every problem."""
    try:
        policy = policies.load(_read(path))
    except policies.PolicyError as error:
        typer.echo(f"invalid: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"ok: {policy.name} with {len(policy.rules)} rules")


@lexicon_app.command("test")
@host_operator("runs a lexicon over given text, no data")
def test(path: Path, text: list[str]) -> None:
    """Match texts against a policy file (nothing stored): the hits, highlighted."""
    try:
        lexicon = Lexicon([policies.load(_read(path))])
    except policies.PolicyError as error:
        typer.echo(f"invalid: {error}", err=True)
        raise typer.Exit(2) from error
    for line in text:
        hits = lexicon.match(Utterance(line))
        marks = "; ".join(f"{hit.rule}: {hit.highlighted(line)}" for hit in hits)
        typer.echo(f"{'HIT ' if hits else 'miss'} {line}" + (f"  ->  {marks}" if hits else ""))


@lexicon_app.command("propose")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def propose(
    path: Path, as_user: AsUser, note: Annotated[str | None, typer.Option()] = None
) -> None:
    """Store a new version of a policy, waiting for a second person's approval."""
    source = _read(path)
    with acting(as_user) as (_, session, actor):
        row = store.propose(session, actor=actor, source=source, note=note)
        typer.echo(f"proposed {row.name} v{row.version}: waiting for approval by another user")


@lexicon_app.command("approve")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def approve(name: str, version: int, as_user: AsUser) -> None:
    """Switch a proposed version on (not by its proposer)."""
    with acting(as_user) as (_, session, actor):
        row = store.approve(session, actor=actor, name=name, version=version)
        typer.echo(f"approved {row.name} v{row.version}: active now")


@lexicon_app.command("reject")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def reject(name: str, version: int, as_user: AsUser, note: Annotated[str, typer.Option()]) -> None:
    with acting(as_user) as (_, session, actor):
        row = store.reject(session, actor=actor, name=name, version=version, note=note)
        typer.echo(f"rejected {row.name} v{row.version}")


@lexicon_app.command("list")
@host_operator("read-only lexicon versions on the host")
def list_versions(as_user: AsUser, name: str | None = None) -> None:
    with acting(as_user) as (_, session, actor):
        for row in store.versions(session, actor=actor, name=name):
            typer.echo(
                f"{row.name:<24} v{row.version:<4} {row.state:<10} "
                f"proposed {row.proposed_at:%Y-%m-%d %H:%M}"
            )


@lexicon_app.command("backtest")
@host_operator("replays stored messages read-only on the host")
def backtest(
    *,
    as_user: AsUser,
    path: Annotated[Path | None, typer.Option("--file", help="A policy not yet stored.")] = None,
    name: Annotated[str | None, typer.Option(help="A stored policy...")] = None,
    version: Annotated[int | None, typer.Option(help="...and its version.")] = None,
    days: Annotated[int, typer.Option(min=1, max=3650)] = 30,
    samples: Annotated[int, typer.Option(min=0, max=500)] = 20,
) -> None:
    """What a policy would have flagged over the stored messages of the last DAYS (JSON)."""
    source = _read(path) if path is not None else None
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with acting(as_user) as (built, session, actor):
        result = preview.backtest(
            session,
            actor=actor,
            messages=Transcript(built.desk),
            since=since,
            source=source,
            name=name,
            version=version,
            samples=samples,
        )
        _echo(result.as_json())
