"""`dealchat rules show|versions|propose|approve|refuse|backtest`: pre-trade rules as data.

A change is a new version of the whole rule set, proposed by one person (rule:edit) and in force
only once a different person approves it (rule:approve). `backtest` replays past orders through
a rule set (a file, or a proposed version) to show what it would have decided.
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

from dealchat.access.rights import Right
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires, step_up
from dealchat.controls import rulesets
from dealchat.controls.backtest import backtest as run_backtest
from dealchat.controls.definitions import RuleSet, parse_ruleset, ruleset_text
from dealchat.controls.models import RuleSetVersion
from dealchat.controls.service import PreTrade
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError

app = typer.Typer(
    no_args_is_help=True, help="Pre-trade rules: versions, four-eyes changes, backtest."
)


@app.command("show")
@host_operator("prints the rules in force on the host")
def show() -> None:
    """The rule set in force, as YAML."""
    with platform() as built, unit_of_work(built.sessions) as session:
        typer.echo(ruleset_text(_active(session, built.desk.pretrade)), nl=False)


@app.command("versions")
@host_operator("lists rule versions on the host")
def versions() -> None:
    with platform() as built, unit_of_work(built.sessions) as session:
        name = _active(session, built.desk.pretrade).name
        for row in rulesets.versions(session, name=name):
            typer.echo(
                f"{row.id} {row.name} v{row.version} {row.state} sha256 {row.sha256[:12]} "
                f"proposed {row.proposed_at:%Y-%m-%d %H:%M}Z {row.comment}"
            )


@app.command("propose")
@requires(Right.RULE_EDIT)
def propose(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="rule set YAML")],
    token: TokenOption,
    comment: Annotated[str, typer.Option(help="what changes and why")] = "",
) -> None:
    """Store a new version, validated; it waits for a second person's approval."""
    with _errors(), acting(token, Right.RULE_EDIT, "rules propose") as (built, session, actor):
        row = rulesets.propose(
            session,
            text=file.read_text(encoding="utf-8"),
            actor=actor,
            comment=comment,
            now=built.desk.clock(),
            current=_active(session, built.desk.pretrade),
        )
        typer.echo(f"proposed {row.name} v{row.version} as {row.id}; another person must approve")


@app.command("approve")
@requires(Right.RULE_APPROVE)
def approve(version_id: str, token: TokenOption) -> None:
    """Put a proposed version in force (not by its proposer)."""
    _decide(version_id, token, approve=True)


@app.command("refuse")
@requires(Right.RULE_APPROVE)
def refuse(version_id: str, token: TokenOption) -> None:
    _decide(version_id, token, approve=False)


@app.command("backtest")
@host_operator("replays past orders read-only on the host")
def backtest(
    file: Annotated[
        Path | None, typer.Option(dir_okay=False, exists=True, help="rule set YAML")
    ] = None,
    version_id: Annotated[str | None, typer.Option("--version", help="a stored version")] = None,
    days: Annotated[int, typer.Option(min=1, max=3650, help="how far back")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What a rule set would have decided on the confirmed orders of the last DAYS days."""
    with _errors(), platform() as built, unit_of_work(built.sessions) as session:
        pretrade = built.desk.pretrade
        if pretrade is None:
            raise typer.BadParameter("controls are disabled (DEALCHAT_CONTROLS__ENABLED)")
        ruleset = _chosen(session, file, version_id, pretrade.fallback)
        since = built.desk.clock() - dt.timedelta(days=days)
        report = run_backtest(session, ruleset=ruleset, rates=pretrade.rates, since=since)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    typer.echo(
        f"{report.ruleset} v{report.version} over {report.orders} orders since {since:%Y-%m-%d}"
    )
    typer.echo(
        "would decide: " + ", ".join(f"{k} {v}" for k, v in sorted(report.decisions.items()))
    )
    for rule_id, count in report.fired.most_common():
        typer.echo(f"  {rule_id} fired {count}x")
    typer.echo(f"{len(report.changed)} orders decided differently than at the time")
    for row in report.changed[:50]:
        typer.echo(
            f"  {row.ref} {row.at:%Y-%m-%d %H:%M} was {row.was}, "
            f"would {row.would.value}: {', '.join(row.fired)}"
        )


def _chosen(
    session: Session, file: Path | None, version_id: str | None, fallback: RuleSet
) -> RuleSet:
    if file is not None:
        return parse_ruleset(file.read_text(encoding="utf-8"))
    if version_id is not None:
        row = session.get(RuleSetVersion, version_id)
        if row is None:
            raise typer.BadParameter(f"no version {version_id}")
        return parse_ruleset(row.body)
    return rulesets.active_ruleset(session, fallback=fallback)


def _active(session: Session, pretrade: PreTrade | None) -> RuleSet:
    if pretrade is None:
        raise typer.BadParameter("controls are disabled (DEALCHAT_CONTROLS__ENABLED)")
    return rulesets.active_ruleset(session, fallback=pretrade.fallback)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (DealchatError, ValueError) as error:
        typer.echo(f"error: {getattr(error, 'message', error)}", err=True)
        raise typer.Exit(2) from error


def _decide(version_id: str, token: str, *, approve: bool) -> None:
    operation = "rules approve" if approve else "rules refuse"
    with _errors(), acting(token, Right.RULE_APPROVE, operation) as (built, session, actor):
        proposed = session.get(RuleSetVersion, version_id)
        if proposed is None:
            raise typer.BadParameter(f"no rule set version {version_id}")
        typer.echo(f"{proposed.name} v{proposed.version} proposed by {proposed.proposed_by}")
        step_up(built, session, actor, content_hash=proposed.sha256, operation=operation)
        row = rulesets.decide_proposal(
            session, version_id=version_id, actor=actor, approve=approve, now=built.desk.clock()
        )
        typer.echo(f"{row.name} v{row.version} is {row.state}")
