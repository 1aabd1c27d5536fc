"""`dealchat holds list|approve|abort|expire`: the four-eyes queue of held orders.

Approve and abort act as the user of an API token (`--token` or DEALCHAT_TOKEN): its roles' grants
decide (order:approve), the decision goes to the access log, and nobody approves an order they
entered or a client they own. A host operator cannot approve in somebody else's name.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dealchat.access.rights import Right
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires
from dealchat.controls import holds
from dealchat.conversations import pretrade
from dealchat.db.session import unit_of_work

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


def _act(hold_or_ref: str, token: str, text: str, *, approving: bool) -> None:
    operation = "holds approve" if approving else "holds abort"
    with acting(token, Right.ORDER_APPROVE, operation) as (built, session, actor):
        found = holds.find(session, hold_or_ref=hold_or_ref)
        if found is None:
            raise typer.BadParameter(f"no hold {hold_or_ref}")
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
