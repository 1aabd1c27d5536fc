"""`dealchat serve`: run the platform's web server."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from dealchat import logs
from dealchat.app import create_app, create_edge_app
from dealchat.channels.bus import BusWorker
from dealchat.channels.sink import LocalSink
from dealchat.cli.channels_runtime import running_channels
from dealchat.cli.common import ending_on_signals, platform, serve_app
from dealchat.cli.guard import host_operator
from dealchat.conversations import rfq
from dealchat.identity import directory
from dealchat.live.watcher import Watcher
from dealchat.records.checkpoints import Checkpointer, CheckpointKeys
from dealchat.records.witnessing import Witnessing, build_witnesses
from dealchat.settings import Settings

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]


class Role(StrEnum):
    all = "all"
    edge = "edge"
    core = "core"


RoleOption = Annotated[
    Role,
    typer.Option(
        help="all: one process. edge: channel webhooks and link pages, no database. "
        "core: everything else, reached by the edge over the sealed link."
    ),
]


@host_operator("starts the server; every request is authorised by require()")
def serve(
    host: HostOption = "127.0.0.1", port: PortOption = 8000, role: RoleOption = Role.all
) -> None:
    """Start the platform (settings from DEALCHAT_* variables)."""
    settings = settings_for(host, port)
    with ending_on_signals():  # SIGTERM stops the channels and the checkpointer cleanly too
        if role is Role.edge:
            run_edge(settings, host, port)
        else:
            run(settings, host, port, role=role.value)


def run_edge(settings: Settings, host: str, port: int) -> None:
    logs.configure(settings.log_level)
    app = create_edge_app(settings)
    serve_app(app, host, port)


def settings_for(host: str, port: int) -> Settings:
    """Settings, with the public URL following the port unless DEALCHAT_PUBLIC_URL is set."""
    settings = Settings()
    if "public_url" not in settings.model_fields_set:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a comparison
        settings = settings.model_copy(update={"public_url": f"http://{shown}:{port}"})
    return settings


def run(settings: Settings, host: str, port: int, *, role: str = "all") -> None:
    logs.configure(settings.log_level)
    with platform(settings) as built, running_channels(built) as channels:
        app = create_app(
            platform=built,
            adapters=channels.adapters,
            on_reply=channels.dispatcher.wake,
            role=role,
        )
        keys = CheckpointKeys.load(settings.keys_dir, settings.records.origin)
        witnessing = Witnessing(
            built.sessions,
            witnesses=build_witnesses(
                settings.records.witnesses, origin=keys.origin, keyring=keys.keyring
            ),
        )
        checkpointer = Checkpointer(
            built.sessions,
            keys=keys,
            interval=settings.records.checkpoint_interval_seconds,
            on_signed=witnessing.wake,
        )
        witnessing.start()
        checkpointer.start()
        sweeper = rfq.Sweeper(built.sessions, built.desk, on_swept=channels.dispatcher.wake)
        sweeper.start()  # requests for quote nobody priced in time, prices past their validity
        watcher = Watcher(built.sessions, built.hub.publish).start()  # other processes' changes
        directory_sync = None
        if settings.directory.enabled and settings.directory.interval_minutes > 0:
            directory_sync = directory.Syncer(built.sessions, settings.directory).start()
        if built.venue is not None:  # FIX sessions to the liquidity providers: logon now
            built.venue.start()
        worker = None
        if settings.bus.url:  # this node takes its share of the stream's messages
            local = LocalSink(built.sessions, built.desk, on_committed=channels.dispatcher.wake)
            worker = BusWorker(settings.bus, local).start()
        try:
            # uvicorn's own access log would print secure-link tokens; dealchat.access redacts them
            serve_app(app, host, port)
        finally:
            if worker is not None:
                worker.stop()  # what it took and did not finish is delivered again
            if built.venue is not None:
                built.venue.stop()  # logs out: a clean end of the FIX sessions
            if directory_sync is not None:
                directory_sync.stop()
            watcher.stop()
            sweeper.stop()
            checkpointer.stop()
            witnessing.stop()  # sends the last checkpoint too, if the witnesses answer
