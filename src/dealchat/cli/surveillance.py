"""`dealchat alerts ...` (the review queue) and `dealchat lexicon ...` (policies, backtest).

Acting commands take the acting user's API token (`--token` or DEALCHAT_TOKEN) and declare the
right they need (`cli/guard.py`): the decision goes to the access log, and the surveillance
service audits the action under that user. `lexicon validate` and `lexicon test` touch no data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated

import typer

from dealchat.access.rights import Right
from dealchat.cli.guard import TokenOption, acting, host_operator, requires
from dealchat.conversations.transcript import Transcript
from dealchat.surveillance import alerts as queue
from dealchat.surveillance import backtest as preview
from dealchat.surveillance import guard, policies, store
from dealchat.surveillance.lexicon import Lexicon, Policy, Utterance

alerts_app = typer.Typer(no_args_is_help=True, help="Surveillance alerts: the review queue.")
lexicon_app = typer.Typer(
    no_args_is_help=True, help="Lexicon policies: validate, propose, approve."
)
_VERSION = re.compile(r"v?([1-9][0-9]{0,8})")


def _echo(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _version(text: str) -> int:
    """`3` or `v3`."""
    found = _VERSION.fullmatch(text.strip())
    if found is None:
        raise guard.bad(f"version {text!r}: a number such as 3 or v3")
    return int(found.group(1))


def _text_of(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise guard.bad(f"cannot read {path}: {error.strerror}") from None


@alerts_app.command("list")
@requires(Right.ALERT_READ)
def list_(
    token: TokenOption,
    status: Annotated[str | None, typer.Option(help="open, claimed, escalated or closed")] = None,
    mine: Annotated[bool, typer.Option(help="Only alerts assigned to me.")] = False,
    limit: int = 50,
) -> None:
    """The queue, newest first: one line per alert."""
    with acting(token, Right.ALERT_READ, "alerts list") as (_, session, actor):
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
@requires(Right.ALERT_READ)
def show(alert_id: str, token: TokenOption) -> None:
    """One alert as JSON: highlighted text, context messages and every reviewer action."""
    with acting(token, Right.ALERT_READ, "alerts show") as (built, session, actor):
        view = queue.show(session, actor=actor, alert_id=alert_id, messages=Transcript(built.desk))
        _echo(view.as_json())


@alerts_app.command("claim")
@requires(Right.ALERT_REVIEW)
def claim(alert_id: str, token: TokenOption) -> None:
    """Take an open or escalated alert nobody holds."""
    with acting(token, Right.ALERT_REVIEW, "alerts claim") as (_, session, actor):
        alert = queue.claim(session, actor=actor, alert_id=alert_id)
        typer.echo(f"{alert.id} claimed by {actor.username}")


@alerts_app.command("assign")
@requires(Right.ALERT_ASSIGN)
def assign(
    alert_id: str,
    assignee: str,
    token: TokenOption,
    comment: Annotated[str, typer.Option()] = "",
) -> None:
    """Give the alert to an internal user."""
    with acting(token, Right.ALERT_ASSIGN, "alerts assign") as (_, session, actor):
        alert = queue.assign(
            session, actor=actor, alert_id=alert_id, assignee=assignee, comment=comment
        )
        typer.echo(f"{alert.id} assigned to {assignee}")


@alerts_app.command("escalate")
@requires(Right.ALERT_REVIEW)
def escalate(alert_id: str, token: TokenOption, comment: Annotated[str, typer.Option()]) -> None:
    """Hand a claimed alert up a level, with why."""
    with acting(token, Right.ALERT_REVIEW, "alerts escalate") as (_, session, actor):
        alert = queue.escalate(session, actor=actor, alert_id=alert_id, comment=comment)
        typer.echo(f"{alert.id} escalated to level {alert.escalation_level}")


@alerts_app.command("close")
@requires(Right.ALERT_REVIEW)
def close(
    alert_id: str,
    token: TokenOption,
    disposition: Annotated[str, typer.Option(help=", ".join(d.value for d in queue.Disposition))],
    comment: Annotated[str, typer.Option()],
) -> None:
    """End a claimed alert's review with a disposition and a comment."""
    with acting(token, Right.ALERT_REVIEW, "alerts close") as (_, session, actor):
        alert = queue.close(
            session, actor=actor, alert_id=alert_id, disposition=disposition, comment=comment
        )
        typer.echo(f"{alert.id} closed: {alert.disposition}")


def _file_policy(path: Path) -> Policy:
    try:
        return policies.load(path.read_text(encoding="utf-8"))
    except OSError as error:
        typer.echo(f"error: cannot read {path}: {error.strerror}", err=True)
        raise typer.Exit(2) from error
    except policies.PolicyError as error:
        typer.echo(f"invalid: {error}", err=True)
        raise typer.Exit(2) from error


@lexicon_app.command("validate")
@host_operator("checks a lexicon file, no data")
def validate(path: Path) -> None:
    """Check a policy file; exit 2 listing every problem."""
    policy = _file_policy(path)
    typer.echo(f"ok: {policy.name} with {len(policy.rules)} rules")


@lexicon_app.command("test")
@host_operator("runs a lexicon over given text, no data")
def test(path: Path, text: list[str]) -> None:
    """Match texts against a policy file (nothing stored): the hits, highlighted."""
    lexicon = Lexicon([_file_policy(path)])
    for line in text:
        hits = lexicon.match(Utterance(line))
        marks = "; ".join(f"{hit.rule}: {hit.highlighted(line)}" for hit in hits)
        typer.echo(f"{'HIT ' if hits else 'miss'} {line}" + (f"  ->  {marks}" if hits else ""))


@lexicon_app.command("propose")
@requires(Right.LEXICON_EDIT)
def propose(
    path: Path, token: TokenOption, note: Annotated[str | None, typer.Option()] = None
) -> None:
    """Store a new version of a policy, waiting for a second person's approval."""
    with acting(token, Right.LEXICON_EDIT, "lexicon propose") as (_, session, actor):
        row = store.propose(session, actor=actor, source=_text_of(path), note=note)
        typer.echo(f"proposed {row.name} v{row.version}: waiting for approval by another user")


@lexicon_app.command("approve")
@requires(Right.RULE_APPROVE)
def approve(name: str, version: str, token: TokenOption) -> None:
    """Switch a proposed version on (not by its proposer)."""
    with acting(token, Right.RULE_APPROVE, "lexicon approve") as (_, session, actor):
        row = store.approve(session, actor=actor, name=name, version=_version(version))
        typer.echo(f"approved {row.name} v{row.version}: active now")


@lexicon_app.command("reject")
@requires(Right.RULE_APPROVE)
def reject(
    name: str, version: str, token: TokenOption, note: Annotated[str, typer.Option()]
) -> None:
    """Refuse a proposed version, saying why."""
    with acting(token, Right.RULE_APPROVE, "lexicon reject") as (_, session, actor):
        row = store.reject(session, actor=actor, name=name, version=_version(version), note=note)
        typer.echo(f"rejected {row.name} v{row.version}")


@lexicon_app.command("list")
@requires(Right.RULE_APPROVE)
def list_versions(token: TokenOption, name: str | None = None) -> None:
    """Every stored version and its state (proposed, active, superseded, rejected)."""
    with acting(token, Right.RULE_APPROVE, "lexicon list") as (_, session, actor):
        for row in store.versions(session, actor=actor, name=name):
            typer.echo(
                f"{row.name:<24} v{row.version:<4} {row.state:<10} "
                f"proposed {row.proposed_at:%Y-%m-%d %H:%M}"
            )


@lexicon_app.command("backtest")
@requires(Right.LEXICON_EDIT)
def backtest(
    *,
    token: TokenOption,
    path: Annotated[Path | None, typer.Option("--file", help="A policy not yet stored.")] = None,
    name: Annotated[str | None, typer.Option(help="A stored policy...")] = None,
    version: Annotated[str | None, typer.Option(help="...and its version.")] = None,
    days: Annotated[int, typer.Option(min=1, max=3650)] = 30,
    samples: Annotated[int, typer.Option(min=0, max=500)] = 20,
) -> None:
    """What a policy would have flagged over the stored messages of the last DAYS (JSON)."""
    with acting(token, Right.LEXICON_EDIT, "lexicon backtest") as (built, session, actor):
        since = built.desk.clock() - dt.timedelta(days=days)
        result = preview.backtest(
            session,
            actor=actor,
            messages=Transcript(built.desk),
            since=since,
            source=_text_of(path) if path is not None else None,
            name=name,
            version=_version(version) if version is not None else None,
            samples=samples,
        )
        _echo(result.as_json())
