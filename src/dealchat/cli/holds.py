"""`dealchat holds list|approve|abort|expire`: the four-eyes queue of held orders.

Approve and abort act as the user of an API token (`--token` or DEALCHAT_TOKEN): its roles' grants
decide (order:approve), the decision goes to the access log, and nobody approves an order they
entered or a client they own. A host operator cannot approve in somebody else's name. Approving is
level 2, as over HTTP: the user types the password and a fresh authenticator code for that order.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires, step_up
from dealchat.controls import holds
from dealchat.conversations import pretrade
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.orders.service import ticket_of
from dealchat.orders.tickets import describe

app = typer.Typer(no_args_is_help=True, help="Held orders: list, approve (four-eyes), abort.")


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
@requires(Right.ORDER_APPROVE)
def approve(
    hold: Annotated[str, typer.Argument(help="hold id or order reference (ORD-...)")],
    token: TokenOption,
    comment: Annotated[str, typer.Option(help="why it may go")] = "",
) -> None:
    """Approve a held order; the last approval needed releases it to the counterparty."""
    _act(hold, token, comment, approving=True)


@app.command("abort")
@requires(Right.ORDER_APPROVE)
def abort(
    hold: Annotated[str, typer.Argument(help="hold id or order reference (ORD-...)")],
    token: TokenOption,
    reason: Annotated[str, typer.Option(help="why it must not go")],
) -> None:
    """Stop a held order; the client is told and the headroom released."""
    _act(hold, token, reason, approving=False)


@app.command("expire")
@host_operator("the scheduled expiry job, run by the host")
def expire() -> None:
    """Expire holds nobody released in time (run it from a timer)."""
    with platform() as built, unit_of_work(built.sessions) as session:
        expired = pretrade.expire_holds(session, desk=built.desk, now=built.desk.clock())
    typer.echo(f"expired {len(expired)} holds" + "".join(f"\n  {o.ref}" for o in expired))


def _step_up_for(
    built: Platform, session: Session, actor: Actor, order_id: str, operation: str
) -> None:
    order = session.get(Order, order_id)
    assert order is not None  # a hold's order is a foreign key
    typer.echo(f"{order.ref}: {describe(ticket_of(order))}")
    step_up(
        built, session, actor, content_hash=order.ticket_hash, operation=f"{operation} {order.ref}"
    )


def _act(hold_or_ref: str, token: str, text: str, *, approving: bool) -> None:
    operation = "holds approve" if approving else "holds abort"
    with acting(token, Right.ORDER_APPROVE, operation) as (built, session, actor):
        found = holds.find(session, hold_or_ref=hold_or_ref)
        if found is None:
            raise typer.BadParameter(f"no hold {hold_or_ref}")
        if approving:
            _step_up_for(built, session, actor, found.order_id, operation)
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
    typer.echo(outcome)
