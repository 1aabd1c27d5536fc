"""`dealchat serve`: run the platform's web server."""

from __future__ import annotations

import socket
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer

from dealchat import logs
from dealchat.api.deps import Platform
from dealchat.app import create_app, create_edge_app, edge_link
from dealchat.channels.bus import BusWorker
from dealchat.channels.bus_deliveries import deliveries_by_bus
from dealchat.channels.sink import LocalSink
from dealchat.cli.channels_runtime import RunningChannels, running_channels
from dealchat.cli.common import ending_on_signals, platform, serve_app
from dealchat.cli.guard import host_operator
from dealchat.cli.workers import listening_socket, run_workers
from dealchat.conversations import rfq
from dealchat.db.leader import Leadership
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


WorkersOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Server processes on one socket (core and all); jobs that run once run in one.",
    ),
]


@host_operator("starts the server; every request is authorised by require()")
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    role: RoleOption = Role.all,
    workers: WorkersOption = 1,
) -> None:
    """Start the platform (settings from DEALCHAT_* variables)."""
    settings = settings_for(host, port)
    if workers > 1:
        if role is Role.edge:
            raise typer.BadParameter("the edge runs one process: --workers is for core and all")
        settings = settings.model_copy(
            update={"serve": settings.serve.model_copy(update={"workers": workers})}
        )
    with ending_on_signals():  # SIGTERM stops the channels and the checkpointer cleanly too
        if role is Role.edge:
            run_edge(settings, host, port)
        elif workers == 1:
            run(settings, host, port, role=role.value)
        else:
            prepare(settings, role=role.value)
            sock = listening_socket(host, port)
            run_workers(
                workers,
                sock,
                lambda _index: run(settings, host, port, role=role.value, sockets=[sock]),
            )


def prepare(settings: Settings, *, role: str) -> None:
    """What must happen once before several workers start: the database migrated and every key
    made on first run (sealing, key encryption, checkpoint signing, the core's link key)."""
    with platform(settings):
        CheckpointKeys.load(settings.keys_dir, settings.records.origin)
        if role == "core":
            edge_link(settings, role="core")


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


def run(
    settings: Settings,
    host: str,
    port: int,
    *,
    role: str = "all",
    sockets: list[socket.socket] | None = None,
) -> None:
    logs.configure(settings.log_level)
    with (
        platform(settings) as built,
        running_channels(built, start=False) as channels,
        deliveries_by_bus(settings.bus, built.sessions, channels.dispatcher),
    ):
        app = create_app(
            platform=built, adapters=channels.adapters, on_reply=channels.wake, role=role
        )
        once = OnceJobs(settings, built, channels)
        leadership = Leadership(built.engine, settings.data_dir, on_elected=once.start).start()
        watcher = Watcher(built.sessions, built.hub.publish).start()  # other processes' changes
        worker = None
        if settings.bus.url:  # every process takes its share of the stream's messages
            local = LocalSink(built.sessions, built.desk, on_committed=channels.wake)
            worker = BusWorker(settings.bus, local).start()
        try:
            # uvicorn's own access log would print secure-link tokens; dealchat.access redacts them
            serve_app(app, host, port, sockets)
        finally:
            if worker is not None:
                worker.stop()  # what it took and did not finish is delivered again
            leadership.stop()
            watcher.stop()
            once.stop()


class OnceJobs:
    """What runs in the leader only (`db.leader`): the outbox dispatcher and Matrix, the
    checkpointer and witnesses, the RFQ sweeper, the directory sync and the FIX sessions."""

    def __init__(self, settings: Settings, built: Platform, channels: RunningChannels) -> None:
        self._settings, self._built, self._channels = settings, built, channels
        self._stops: list[Callable[[], None]] = []

    def start(self) -> None:
        settings, built, channels = self._settings, self._built, self._channels
        channels.start()
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
        self._stops.append(witnessing.stop)  # sends the last checkpoint too, if they answer
        checkpointer.start()
        self._stops.append(checkpointer.stop)
        sweeper = rfq.Sweeper(built.sessions, built.desk, on_swept=channels.wake)
        sweeper.start()  # requests for quote nobody priced in time, prices past their validity
        self._stops.append(sweeper.stop)
        if settings.directory.enabled and settings.directory.interval_minutes > 0:
            self._stops.append(directory.Syncer(built.sessions, settings.directory).start().stop)
        if built.venue is not None:  # FIX sessions to the liquidity providers: logon now
            built.venue.start()
            self._stops.append(built.venue.stop)  # logs out: a clean end of the FIX sessions

    def stop(self) -> None:
        """The last started first: FIX, directory, sweeper, checkpointer, then witnesses."""
        while self._stops:
            self._stops.pop()()
