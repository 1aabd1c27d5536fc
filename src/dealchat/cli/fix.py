"""`dealchat fix sessions|eod|exceptions|decide`: the FIX sessions and the execution exceptions.

`sessions` shows each provider session's state, its next sequence numbers and the day's gaps and
resets; `eod` is the end-of-day check (run it from a timer after the sessions' end time): every
session not logged out cleanly raises an alert. `exceptions` lists the counterparty reports held
by an inbound control; `decide` proposes or confirms (four eyes) booking or discarding one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from dealchat.access.rights import Right
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires
from dealchat.conversations import executions
from dealchat.db.session import unit_of_work
from dealchat.execution import sessions as fix_sessions
from dealchat.execution.models import FixMessage
from dealchat.orders import exceptions
from dealchat.orders.models import Order

app = typer.Typer(no_args_is_help=True, help="FIX sessions and execution exceptions.")


@app.command("sessions")
@host_operator("read-only view of the FIX sessions on the host")
def sessions(
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (UTC), default today")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Each session's state, next sequence numbers, messages and gaps of the day."""
    day = _day(date)
    with platform() as built, unit_of_work(built.sessions) as session:
        lines = fix_sessions.overview(session, day=day)
    if as_json:
        typer.echo(json.dumps([line.__dict__ for line in lines], default=str, indent=2))
        return
    if not lines:
        typer.echo("no FIX sessions yet (DEALCHAT_EXECUTION__VENUE=fix starts them with serve)")
    for line in lines:
        clean = {True: "clean logout", False: "no logout", None: ""}[line.clean_logout]
        typer.echo(
            f"{line.provider} {line.session} {line.status} {clean} "
            f"next out {line.next_sender_seq} next in {line.next_target_seq} "
            f"messages {line.messages_today} gaps {len(line.gaps_today)}"
        )
        for gap in line.gaps_today:
            typer.echo(f"    {json.dumps(gap, default=str)}")


@app.command("eod")
@host_operator("the end-of-day job, run by the host's timer")
def end_of_day() -> None:
    """Alert on every FIX session that did not log out cleanly."""
    with platform() as built, unit_of_work(built.sessions) as session:
        unclean = fix_sessions.end_of_day(session, now=built.desk.clock())
    typer.echo("all sessions logged out cleanly" if not unclean else f"alerted: {unclean}")
    if unclean:
        raise typer.Exit(1)


@app.command("exceptions")
@host_operator("read-only list of held execution reports on the host")
def list_exceptions() -> None:
    """Open execution exceptions: the report, the order, what failed, any proposal."""
    with platform() as built, unit_of_work(built.sessions) as session:
        found = exceptions.open_exceptions(session)
        for item in found:
            order = None if item.order_id is None else session.get(Order, item.order_id)
            message = session.get(FixMessage, item.message_id)
            proposal = f" proposed {item.proposal}" if item.proposal else ""
            typer.echo(
                f"{item.id} {order.ref if order else 'no order'} {item.provider} "
                f"{','.join(exceptions.codes(item))}{proposal}"
            )
            for reason in json.loads(item.reasons):
                typer.echo(f"    {reason['code']}: {reason['detail']}")
            if message is not None:
                typer.echo(f"    seq {message.seq_num}: {message.raw}")
    if not found:
        typer.echo("no open execution exceptions")


@app.command("decide")
@requires(Right.ORDER_APPROVE)
def decide(
    exception: Annotated[str, typer.Argument(help="execution exception id")],
    token: TokenOption,
    action: Annotated[str, typer.Option(help="book or discard")],
    comment: Annotated[str, typer.Option(help="why")],
) -> None:
    """Propose, or as a second person confirm, booking or discarding a held report."""
    with acting(token, Right.ORDER_APPROVE, "fix decide") as (built, session, actor):
        decided = exceptions.decide(
            session,
            exception_id=exception,
            actor=actor,
            action=action,
            comment=comment,
            now=built.desk.clock(),
        )
        if decided.applied is not None:
            executions.tell(session, built.desk, decided.applied)
        state = decided.exception.state
    typer.echo(
        f"{exception}: {state}" + (" (a second person must confirm)" if state == "open" else "")
    )


def _day(text: str | None) -> dt.date:
    if text is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD") from error
