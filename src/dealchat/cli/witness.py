"""`dealchat witness ...`: run a witness of another installation's audit log (its own host, key
and folder; no database), or print its key for that installation's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealchat import logs
from dealchat.cli.common import ending_on_signals, serve_app
from dealchat.cli.guard import host_operator
from dealchat.records.notes import NoteError
from dealchat.records.witness import Witness, WitnessFileError, load_cosigner, log_keys
from dealchat.records.witness_http import create_witness_app

app = typer.Typer(no_args_is_help=True, help="A witness of an audit log's checkpoints.")

DirOption = Annotated[
    Path, typer.Option("--dir", help="The witness's own folder: its key and checkpoint file.")
]
NameOption = Annotated[
    str,
    typer.Option(help="The witness's name in its cosignatures (e.g. witness1.bank.example/dc)."),
]


@app.command("serve")
@host_operator("runs a witness: its own key and folder, never the platform's database")
def serve(
    directory: DirOption,
    name: NameOption,
    log_key: Annotated[
        list[str],
        typer.Option(help="A log's checkpoint key (`dealchat audit keys`), once per key."),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8700,
) -> None:
    """Cosign the checkpoints of the logs whose keys are given (C2SP tlog-witness over HTTP)."""
    try:
        witness = Witness(directory, name=name, logs=log_keys(log_key))
    except (NoteError, WitnessFileError, ValueError) as error:
        typer.echo(f"cannot start the witness: {error}", err=True)
        raise typer.Exit(2) from error
    logs.configure("INFO")
    typer.echo(f"witness {witness.key.vkey}\nlogs: {', '.join(sorted(witness.logs))}", err=True)
    with ending_on_signals():
        serve_app(create_witness_app(witness), host, port)


@app.command("key")
@host_operator("prints the witness's public key, making the key on first use")
def key(directory: DirOption, name: NameOption) -> None:
    """Print the witness's verifier key (made, 0600, on first use): the `key` of this witness in
    the platform's DEALCHAT_RECORDS__WITNESSES."""
    typer.echo(load_cosigner(directory, name).key.vkey)
