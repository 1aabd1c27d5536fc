"""`dealchat audit report` (a window's audit report: everyone, a client or a conversation) and the
offline checks `dealchat audit verify-receipt` and `verify-bundle`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.conversations import reporting
from dealchat.conversations.report_subjects import NotFoundError
from dealchat.db.session import unit_of_work
from dealchat.records import pdf_signing, receipts_verify, reports, reports_bundle
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.notes import Keyring, NoteError
from dealchat.records.offline import keyring
from dealchat.records.pdf_signing import EvidenceSigner
from dealchat.settings import Settings


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-11-24T00:00:00+00:00")
    return moment


@host_operator("exports the audit report from the host database (the export is audited)")
def report(
    *,
    start: Annotated[str | None, typer.Option("--from", help="from this instant (ISO)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="up to this instant, exclusive")] = None,
    client: Annotated[
        str | None, typer.Option(help="only this client's records (username)")
    ] = None,
    conversation: Annotated[str | None, typer.Option(help="only this conversation's")] = None,
    case: Annotated[str | None, typer.Option(help="only this case's (CASE-n)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json, csv, pdf, bundle")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here")] = None,
) -> None:
    """Export the audit report; the export itself is an audit entry."""
    if fmt not in reporting.MEDIA_TYPES:
        raise typer.BadParameter(f"--format must be one of {', '.join(reporting.MEDIA_TYPES)}")
    with platform() as built, unit_of_work(built.sessions) as session:
        try:
            built_report = reporting.build(
                session,
                built.desk,
                start=_moment(start),
                end=_moment(end),
                client=client,
                conversation=conversation,
                case=case,
            )
        except NotFoundError as error:
            typer.echo(
                f"error: {error.args[0]}; give a client's username or a case's reference", err=True
            )
            raise typer.Exit(2) from error
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
        settings = built.settings
        keys = CheckpointKeys.load(settings.keys_dir, settings.records.origin)
        data = reporting.render(
            built_report,
            fmt,
            session=session,
            keys=keys,
            signer=EvidenceSigner.load(settings.keys_dir, settings.records.origin),
        )
        reports.audit_export(session, built_report, actor="cli:audit", fmt=fmt)
    if output is not None:
        output.write_bytes(data)
        typer.echo(f"{len(built_report.rows)} entries written to {output}", err=True)
    else:
        sys.stdout.buffer.write(data)


def _trusted(document: Any, keys: list[str]) -> Keyring:
    if keys:
        return keyring(keys)
    embedded = str(((document or {}).get("signature") or {}).get("public_key", ""))
    typer.echo(
        f"trusting the key the file names: {embedded}\n"
        "  (compare it with the bank's published key, or pass --key)",
        err=True,
    )
    return keyring([embedded])


def _load(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        typer.echo(f"FAILED: cannot read {file}: {error}", err=True)
        raise typer.Exit(1) from error


@host_operator("offline check of a receipt file, no data")
def verify_receipt(
    file: Annotated[Path, typer.Argument(help="the receipt (JSON)")],
    key: Annotated[list[str] | None, typer.Option("--key", help="a trusted vkey")] = None,
) -> None:
    """Check an order receipt offline: signature, checkpoint, inclusion, order and content."""
    document = _load(file)
    try:
        checked = receipts_verify.verify_receipt(document, keys=_trusted(document, key or []))
    except (receipts_verify.ProofError, NoteError) as error:
        typer.echo(f"receipt FAILED: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(
        f"receipt OK: {checked.ref} placed as entry {checked.seq}, included in the signed "
        f"checkpoint of {checked.checkpoint_size} entries"
    )


@host_operator("offline check of a report bundle, no data")
def verify_bundle(
    file: Annotated[Path, typer.Argument(help="the audit bundle (JSON)")],
    key: Annotated[list[str] | None, typer.Option("--key", help="a trusted vkey")] = None,
) -> None:
    """Check an audit bundle offline: signatures, every entry's inclusion, no gaps."""
    document = _load(file)
    try:
        keys = _trusted(document, key or [])
        checked = reports_bundle.verify_bundle(document, keys=keys)
    except (receipts_verify.ProofError, NoteError) as error:
        typer.echo(f"bundle FAILED: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(
        f"bundle OK: {checked.entries} entries included in the signed checkpoint of "
        f"{checked.checkpoint_size} entries; {checked.subjects_complete} subjects without gaps"
    )


@host_operator("offline check of an evidence PDF's signature, no data")
def verify_pdf(
    file: Annotated[Path, typer.Argument(help="the signed PDF")],
    cert: Annotated[
        Path | None, typer.Option("--cert", help="the bank's evidence certificate (PEM)")
    ] = None,
) -> None:
    """Check an exported PDF's PAdES signature: unchanged, signed by the trusted certificate."""
    if cert is None:
        cert = Settings().keys_dir / "evidence" / "signer.crt"
        typer.echo(f"trusting this host's evidence certificate {cert}", err=True)
    try:
        checked = pdf_signing.verify_pdf(file.read_bytes(), cert_file=cert)
    except (OSError, ValueError) as error:
        typer.echo(f"pdf FAILED: {error}", err=True)
        raise typer.Exit(1) from error
    if not checked.ok:
        typer.echo(f"pdf FAILED: {checked}", err=True)
        raise typer.Exit(1)
    typer.echo(f"pdf OK: signed by {checked.signer}, unchanged since, whole file covered")
