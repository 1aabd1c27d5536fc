"""`dealchat holds list|approve|abort|expire`: the four-eyes queue of held orders.

`--as USERNAME` names the internal user acting; its roles' grants decide (order:approve), and
nobody approves an order they entered or a client they own.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dealchat.access.service import actor_for, user_named
from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.controls import holds
from dealchat.conversations import pretrade
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError

app = typer.Typer(no_args_is_help=True, help="Held orders: list, approve (four-eyes), abort.")

AsUser = Annotated[str, typer.Option("--as", help="the internal user acting")]


@app.command("list")
@host_operator("read-only list of held orders on the host")
def list_holds(
    state: Annotated[str, typer.Option(help="open, released, aborted, expired or all")] = "open",
) -> None:
    """Held orders with the rules that held them and who approved so far."""
    with platform() as built, unit_of_work(built.sessions) as session:
        found = holds.views(session, state=None if state == "all" else state)
        for view in found:
            order, hold = view.order, view.hold
            typer.echo(
                f"{hold.id} {order.ref} {hold.state} approvals {len(view.approvers)}/"
                f"{hold.required} expires {hold.expires_at:%Y-%m-%d %H:%M}Z "
                f"{order.side} {order.quantity.normalize():f} {order.pair or order.isin}"
            )
            for line in view.decision.explanation.splitlines():
                typer.echo(f"    {line}")
    if not found:
        typer.echo(f"no {state} holds")


@app.command("approve")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def approve(
    hold: Annotated[str, typer.Argument(help="hold id or order reference (ORD-...)")],
    as_user: AsUser,
    comment: Annotated[str, typer.Option(help="why it may go")] = "",
) -> None:
    """Approve a held order; the last approval needed releases it to the counterparty."""
    _act(hold, as_user, comment, approving=True)


@app.command("abort")
@host_operator("--as names the acting user and its grants decide; trusts the host operator's word")
def abort(
    hold: Annotated[str, typer.Argument(help="hold id or order reference (ORD-...)")],
    as_user: AsUser,
    reason: Annotated[str, typer.Option(help="why it must not go")],
) -> None:
    """Stop a held order; the client is told and the headroom released."""
    _act(hold, as_user, reason, approving=False)


@app.command("expire")
@host_operator("the scheduled expiry job, run by the host")
def expire() -> None:
    """Expire holds nobody released in time (run it from a timer)."""
    with platform() as built, unit_of_work(built.sessions) as session:
        expired = pretrade.expire_holds(session, desk=built.desk, now=built.desk.clock())
    typer.echo(f"expired {len(expired)} holds" + "".join(f"\n  {o.ref}" for o in expired))


def _act(hold_or_ref: str, username: str, text: str, *, approving: bool) -> None:
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            found = holds.find(session, hold_or_ref=hold_or_ref)
            if found is None:
                raise typer.BadParameter(f"no hold {hold_or_ref}")
            actor = actor_for(session, user_named(session, username), factors=("cli",))
            now = built.desk.clock()
            if approving:
                order = pretrade.approve_hold(
                    session, desk=built.desk, hold_id=found.id, actor=actor, comment=text, now=now
                )
            else:
                order = pretrade.abort_hold(
                    session, desk=built.desk, hold_id=found.id, actor=actor, reason=text, now=now
                )
            outcome = f"{order.ref} is {order.state}"
    except DealchatError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from error
    typer.echo(outcome)
