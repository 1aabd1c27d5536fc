"""The Typer app behind the `dealchat` console script; each command group has its own module."""

from __future__ import annotations

import typer

from dealchat.cli import (
    audit,
    audit_reports,
    channels,
    demo,
    directory,
    documents,
    fix,
    holds,
    keys,
    matrix,
    networks,
    recon,
    retention,
    roles,
    rules,
    serve,
    surveillance,
    tokens,
    users,
    witness,
)
from dealchat.cli import parse as parse_cmd

app = typer.Typer(no_args_is_help=True, add_completion=False, help="dealchat: orders over chat.")
app.command("parse")(parse_cmd.parse)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(holds.app, name="holds")
app.add_typer(fix.app, name="fix")
app.add_typer(recon.app, name="recon")
app.add_typer(rules.app, name="rules")
audit.app.command("report")(audit_reports.report)
app.add_typer(surveillance.alerts_app, name="alerts")
app.add_typer(surveillance.lexicon_app, name="lexicon")
audit.app.command("verify-receipt")(audit_reports.verify_receipt)
audit.app.command("verify-bundle")(audit_reports.verify_bundle)
audit.app.command("verify-pdf")(audit_reports.verify_pdf)
app.add_typer(keys.app, name="keys")
app.add_typer(retention.app, name="retention")
app.add_typer(matrix.app, name="matrix")
app.add_typer(roles.app, name="roles")
app.add_typer(tokens.app, name="tokens")
app.add_typer(networks.app, name="networks")
app.add_typer(directory.app, name="directory")
app.add_typer(channels.app, name="channels")
app.add_typer(documents.app, name="documents")
app.add_typer(witness.app, name="witness")


@app.callback()
def main() -> None:
    """dealchat: compliant client order-taking over instant messaging."""


if __name__ == "__main__":  # pragma: no cover
    app()
