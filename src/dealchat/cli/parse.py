"""`dealchat parse`: the chat order parser from the command line, for support staff and scripts."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Annotated

import typer

from dealchat.cli.guard import host_operator
from dealchat.nlu import Intent, Parser
from dealchat.settings import Settings


def _parser() -> Parser:
    return Settings().nlu.parser()


def _line(intent: Intent, *, explain: bool) -> str:
    out = intent.to_dict()
    if explain:
        out["explain"] = [
            {"token": part.token, "field": part.field, "value": part.value}
            for part in intent.explanation
        ]
    return json.dumps(out, ensure_ascii=False)


@host_operator("pure text parsing, no data")
def parse(
    text: Annotated[str | None, typer.Argument(help="The chat message to parse.")] = None,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help="Read one message a line on stdin, print one JSON a line."),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also show, for every word, the field it became or that it was filler.",
        ),
    ] = False,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="The trade date YYYY-MM-DD that dates like 15dec and IMM2 count from "
            "(default: today's UTC date, as the desk uses).",
        ),
    ] = None,
) -> None:
    """Print the intent of a chat message as one JSON object (NLU.md)."""
    parser = _parser()
    day = _day(today)
    if jsonl:
        _parse_stream(parser, explain=explain, today=day)
        return
    if text is None:
        raise typer.BadParameter("give a message, or --jsonl to read stdin")
    typer.echo(_line(parser.parse(text, day), explain=explain))


def _day(today: str | None) -> dt.date:
    if today is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(today)
    except ValueError:
        raise typer.BadParameter(f"--today {today!r}: write the date as YYYY-MM-DD") from None


def _parse_stream(parser: Parser, *, explain: bool, today: dt.date) -> None:
    """Any bytes in, one JSON line out per input line; invalid UTF-8 becomes U+FFFD."""
    out = sys.stdout
    try:
        for raw in sys.stdin.buffer:
            text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
            out.write(_line(parser.parse(text, today), explain=explain))
            out.write("\n")
        out.flush()
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
