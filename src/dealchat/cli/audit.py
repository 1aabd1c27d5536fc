"""`dealchat audit ...`: verify the log, sign a checkpoint, prove an entry, list or rotate keys."""

from __future__ import annotations

import base64
import json
from typing import Annotated

import typer

from dealchat.cli.common import platform
from dealchat.cli.guard import host_operator
from dealchat.conversations.integrity import RowProblem, deep_check
from dealchat.db.session import reading, unit_of_work
from dealchat.records.checkpoints import CheckpointKeys, create_checkpoint
from dealchat.records.keys import load_keyring, load_signer, rotate_signer
from dealchat.records.service import VerifyResult, inclusion_proof, latest_checkpoint
from dealchat.records.verify import default_workers, verify_log
from dealchat.records.witness_check import (
    OK,
    TAMPERED,
    UNREACHABLE,
    WitnessFinding,
    ask_witnesses,
    judge,
    wanted_roots,
)
from dealchat.records.witnessing import build_witnesses

app = typer.Typer(no_args_is_help=True, help="The audit log.")


@app.command("verify")
@host_operator("read-only integrity check of the log on the host's database")
def verify(
    deep: Annotated[
        bool,
        typer.Option("--deep", help="Also check every message and order row against its entries."),
    ] = False,
) -> None:
    """Exit 0 when everything re-derives and extends what every witness cosigned; exit 1 naming
    the first bad entry, or a rollback or fork a witness shows, or (with --deep) every message
    or order row that differs from its entries, is missing or has none; exit 2 when the log
    verifies but a witness could not be asked.

    Large logs are checked by one worker process per CPU (at most 4), on one consistent snapshot
    of the database (`reading`), so entries and checkpoints committed meanwhile are neither seen
    half nor waited for, and no writer waits for the check. The witnesses are asked first, so
    what they cosigned is in the snapshot read after.
    """
    with platform() as built:
        settings = built.settings
        keys = load_keyring(settings.keys_dir)
        witnesses = build_witnesses(
            settings.records.witnesses, origin=settings.records.origin, keyring=keys
        )
        try:
            asked = ask_witnesses(witnesses, origin=settings.records.origin, log_keys=keys)
        finally:
            for witness in witnesses:
                witness.close()
        with reading(built.sessions) as session:
            result = verify_log(
                session, keys=keys, workers=default_workers(), roots_at=wanted_roots(asked)
            )
            rows = deep_check(session) if deep else []
    findings = judge(asked, size=result.checked, roots=result.roots) if result.ok else []
    _report(result, findings, rows)


def _report(result: VerifyResult, findings: list[WitnessFinding], rows: list[RowProblem]) -> None:
    for finding in findings:
        typer.echo(finding.message, err=finding.verdict != OK)
    for problem in rows:
        typer.echo(f"row FAILED: {problem}", err=True)
    if not result.ok:
        typer.echo(f"audit log FAILED at entry {result.first_bad_seq}: {result.problem}", err=True)
        raise typer.Exit(1)
    if rows:
        typer.echo(f"audit log FAILED: {result.checked} entries verified, but {len(rows)} "
                   "operational rows differ from them", err=True)  # fmt: skip
        raise typer.Exit(1)
    if any(finding.verdict == TAMPERED for finding in findings):
        typer.echo(f"audit log FAILED: {result.checked} entries re-derive, but a witness "
                   "shows the log was rolled back or forked", err=True)  # fmt: skip
        raise typer.Exit(1)
    typer.echo(f"audit log OK: {result.checked} entries verified")
    if any(finding.verdict == UNREACHABLE for finding in findings):
        raise typer.Exit(2)


@app.command("checkpoint")
@host_operator("signs a checkpoint with the host key")
def checkpoint() -> None:
    """Sign the tree as it is now (if it grew) and print the newest signed checkpoint."""
    with platform() as built:
        keys = CheckpointKeys.load(built.settings.keys_dir, built.settings.records.origin)
        with unit_of_work(built.sessions) as session:
            signed = create_checkpoint(session, keys=keys)
            note = signed.note if signed is not None else None
    if note is None:
        typer.echo("the audit log is empty: nothing to sign", err=True)
        raise typer.Exit(1)
    typer.echo(note, nl=False)


@app.command("prove")
@host_operator("read-only inclusion proof from the host database")
def prove(seq: Annotated[int, typer.Argument(min=1, help="The entry's number.")]) -> None:
    """Print entry SEQ's inclusion proof against the newest checkpoint, as JSON."""
    with platform() as built, unit_of_work(built.sessions) as session:
        signed = latest_checkpoint(session)
        if signed is None or signed.size < seq:
            typer.echo(f"no checkpoint covers entry {seq} yet", err=True)
            raise typer.Exit(1)
        index, size, path = inclusion_proof(session, seq, tree_size=signed.size)
        note = signed.note
    proof = {
        "leaf_index": index,
        "tree_size": size,
        "path": [base64.b64encode(h).decode("ascii") for h in path],
        "checkpoint": note,
    }
    typer.echo(json.dumps(proof, indent=2))


@app.command("keys")
@host_operator("prints the public checkpoint keys")
def keys(
    rotate: Annotated[bool, typer.Option("--rotate", help="Retire the signing key.")] = False,
) -> None:
    """List the checkpoint verifier keys (the active one first); --rotate makes a new one."""
    with platform() as built:
        folder, origin = built.settings.keys_dir, built.settings.records.origin
        if rotate:
            old, _new = rotate_signer(folder, origin)
            typer.echo(f"retired {old.verifier.vkey}")
        active = load_signer(folder, origin).verifier
        typer.echo(f"active  {active.vkey}")
        for verifier in load_keyring(folder).verifiers:
            if verifier != active:
                typer.echo(f"retired {verifier.vkey}")
