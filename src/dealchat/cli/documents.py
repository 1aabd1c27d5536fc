"""`dealchat documents check`: does the configured virus scanner answer, and does it detect?"""

from __future__ import annotations

import typer

from dealchat.cli.guard import host_operator
from dealchat.documents.clamav import ClamdScanner, ScanError
from dealchat.documents.eicar import eicar
from dealchat.documents.interfaces import Verdict
from dealchat.documents.scanners import NOT_CONFIGURED, scanner_from
from dealchat.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Documents: the virus scanner uploads go through.")

EXIT_PROBLEM = 1


@app.command("check")
@host_operator("asks the configured virus scanner to answer and to scan two test samples; no data")
def check() -> None:
    """Print the scanner's engine and signature version; scan a clean and an EICAR sample."""
    scanner = scanner_from(Settings().documents)
    if not isinstance(scanner, ClamdScanner):
        typer.echo(f"scanner: none. Uploads are refused: {NOT_CONFIGURED}", err=True)
        raise typer.Exit(EXIT_PROBLEM)
    typer.echo(f"scanner: clamd at {scanner.address}")
    try:
        typer.echo(f"engine: {scanner.version()}")
    except ScanError as error:
        typer.echo(f"not answering: {error}. Uploads are refused until it answers.", err=True)
        raise typer.Exit(EXIT_PROBLEM) from error
    problems = _self_test(scanner)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(EXIT_PROBLEM)


def _self_test(scanner: ClamdScanner) -> list[str]:
    problems = []
    clean = scanner.scan(b"dealchat scanner self-test: a harmless sample\n")
    if clean.verdict is Verdict.CLEAN:
        typer.echo("clean sample: clean")
    else:
        problems.append(f"clean sample: {clean.verdict} ({clean.detail or clean.signature})")
    infected = scanner.scan(eicar())
    if infected.verdict is Verdict.INFECTED:
        typer.echo(f"EICAR test file: detected as {infected.signature}")
    else:
        why = f"{infected.verdict}: {infected.detail}" if infected.detail else infected.verdict
        problems.append(f"EICAR test file: NOT detected ({why}); are signatures loaded?")
    return problems
