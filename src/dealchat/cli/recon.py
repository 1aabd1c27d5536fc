"""`dealchat recon import FILE` and `dealchat recon report --date`: end-of-day reconciliation.

`import` reads MT940/MT950 statements and MT900/MT910 confirmations (one file may hold several),
matches their lines against the settlements of filled orders and records every match and break
(each break an alert); importing the same statement again changes nothing. `report` lists a value
date's matched items, breaks and the settlements nothing has matched yet; it exits 1 when there
are breaks, so a scheduler notices.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.db.session import unit_of_work
from dealchat.recon import service
from dealchat.recon.statements import StatementError

app = typer.Typer(no_args_is_help=True, help="End-of-day reconciliation of statements.")
MAX_FILE_BYTES = 20 * 1024 * 1024


@app.command("import")
@host_operator("the bank's statement feed, run on the host")
def import_file(
    path: Annotated[Path, typer.Argument(help="an MT940/MT950/MT900/MT910 file", exists=True)],
) -> None:
    """Import a statement or confirmation file and reconcile it."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise typer.BadParameter(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    text = path.read_bytes().decode("latin-1")  # SWIFT's character set is a subset
    with platform() as built:
        try:
            with unit_of_work(built.sessions) as session:
                result = service.import_text(
                    session,
                    text=text,
                    source=path.name,
                    accounts=built.settings.recon.accounts,
                    now=built.desk.clock(),
                )
                breaks = [(b.kind, b.detail) for b in result.breaks]
        except StatementError as error:
            typer.echo(f"{path.name}: {error}; nothing was imported", err=True)
            raise typer.Exit(2) from error
    for reference in result.duplicates:
        typer.echo(f"{reference}: imported before, unchanged")
    typer.echo(
        f"{len(result.statements)} new messages, {result.lines} lines, "
        f"{result.matched} matched, {len(breaks)} breaks"
    )
    for kind, detail in breaks:
        typer.echo(f"  BREAK {kind}: {detail}")


@app.command("report")
@host_operator("read-only reconciliation report on the host")
def report(
    date: Annotated[str, typer.Option(help="the value date, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Matched items and breaks of one value date."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError as error:
        raise typer.BadParameter(f"{date!r} is not a date YYYY-MM-DD") from error
    with platform() as built, unit_of_work(built.sessions) as session:
        found = service.report(session, day=day)
        document = report_json(found)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        counts = (len(document["matched"]), len(document["breaks"]), len(document["unmatched"]))
        typer.echo(
            f"value date {document['day']}: {counts[0]} matched, {counts[1]} breaks, "
            f"{counts[2]} not yet seen"
        )
        for item in document["matched"]:
            typer.echo(f"  MATCHED {item['reference']} {item['amount']} {item['currency']}")
        for item in document["breaks"]:
            typer.echo(f"  BREAK {item['kind']}: {item['detail']}")
        for item in document["unmatched"]:
            typer.echo(f"  OPEN {item['reference']} {item['amount']} {item['currency']}")
    if document["breaks"]:
        raise typer.Exit(1)


def report_json(found: service.Report) -> dict[str, Any]:
    return {
        "day": found.day,
        "matched": [
            {"reference": s.reference, "currency": s.currency, "amount": f"{s.amount:f}",
             "counterparty": s.counterparty, "line": line.id, "account": line.account}
            for s, line in found.matched
        ],
        "breaks": [
            {"id": b.id, "kind": b.kind, "detail": b.detail, "state": b.state}
            for b in found.breaks
        ],
        "unmatched": [
            {"reference": s.reference, "currency": s.currency, "amount": f"{s.amount:f}"}
            for s in found.open_settlements
        ],
    }  # fmt: skip
