"""The composition root: `create_app(settings)` builds everything; nothing is built at import."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from dealchat.access.counting import DatabaseCounter, MemoryCounter
from dealchat.access.throttle import RateLimits, SourceThrottle
from dealchat.api import (
    admin_views,
    audit_views,
    auth_views,
    controls_views,
    documents_views,
    receipt_views,
    retention_views,
    search_views,
    surveillance_views,
    upload_views,
)
from dealchat.api import errors as api_errors
from dealchat.api.deps import Platform, public
from dealchat.api.front import Front
from dealchat.channels import bus, edge, replays, webhooks
from dealchat.channels.interfaces import ChannelAdapter, InboundSink
from dealchat.channels.link import Link, load_certificate, load_or_create_identity
from dealchat.channels.registry import build_adapters
from dealchat.channels.sink import LocalSink
from dealchat.channels.webchat import views as webchat_views
from dealchat.console import alerts as console_alerts
from dealchat.console import compliance as console_compliance
from dealchat.console import conversations as console_conversations
from dealchat.console import documents as console_documents
from dealchat.console import holds as console_holds
from dealchat.console import recon as console_recon
from dealchat.console import review as console_review
from dealchat.console import rfqs as console_rfqs
from dealchat.console import search as console_search
from dealchat.console import users as console_users
from dealchat.console import views as console_views
from dealchat.controls.service import PreTrade
from dealchat.conversations import activity, executions, signing
from dealchat.conversations.context import Desk
from dealchat.conversations.transcript import Transcript
from dealchat.db import migrate
from dealchat.db.session import make_engine, make_session_factory, snapshot_engine
from dealchat.documents.scanners import scanner_from
from dealchat.execution.simulated import SimulatedCounterparty
from dealchat.identity import (
    enrol_views,
    federated_login,
    oidc_views,
    reset_views,
    saml_views,
)
from dealchat.identity import views as identity_views
from dealchat.identity.directory_login import DirectoryLogin
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.service import AuthPolicy
from dealchat.live import signals
from dealchat.live.hub import Hub
from dealchat.orders import routing
from dealchat.pricing.forwards import ForwardPriceSource
from dealchat.pricing.simulated import SimulatedPriceSource
from dealchat.records import hooks as record_hooks
from dealchat.records import personal
from dealchat.records.envelope import Envelope
from dealchat.records.envelope_kek import FileKek, MemoryKek
from dealchat.records.interfaces import KeyEncryptionKey
from dealchat.records.keys import load_or_create_key
from dealchat.records.sealing import Sealer
from dealchat.settings import Settings
from dealchat.surveillance.patterns import PatternParams
from dealchat.surveillance.service import Surveillance
from dealchat.surveillance.service import categories as surveillance_categories

if TYPE_CHECKING:  # the QuickFIX binding is imported only when orders go over FIX
    from dealchat.execution.fix.runtime import FixVenue

# Requests working at once (api/gate.py), well under the server's 40 worker threads. SQLite: one
# writer at a time. PostgreSQL: past a few, more threads only contend for the interpreter's
# lock and the same rows (bench/ingest.py, one worker at 70 msg/s offered: ungated 50 held with
# 18 ms CPU a message and p50 4.7 s; four at once 66-69 with 12-13 ms and p50 0.08-0.5 s).
REQUESTS_AT_ONCE = {"sqlite": 8, "postgresql": 4}
HEALTH_FRESH_SECONDS = 1.0  # how long a passed database check answers /healthz


def build_platform(settings: Settings) -> Platform:
    """Engine, sessions and the desk with its ports, as settings say. Migrates the database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.data_dir.chmod(0o700)
    engine = make_engine(settings.db_url)
    migrate.upgrade(engine)
    spot = SimulatedPriceSource(settings.pricing.spread_bps)
    prices = ForwardPriceSource(spot, settings.pricing.curves())
    sessions = make_session_factory(engine)
    venue = fix_venue(settings, sessions)
    desk = Desk(
        parser=settings.nlu.parser(),
        prices=prices,
        counterparty=SimulatedCounterparty(prices, settings.pricing.counterparty),
        sealer=Sealer(load_or_create_key(settings.keys_dir / "sealing.key")),
        policy=auth_policy(settings),
        quote_ttl=dt.timedelta(seconds=settings.quote_ttl_seconds),
        ticket_ttl=dt.timedelta(seconds=settings.ticket_ttl_seconds),
        public_url=settings.public_url,
        envelope=Envelope(key_encryption_key(settings)),
        pretrade=pretrade(settings),
        screen=surveillance_categories if settings.surveillance.enabled else None,
        routing=None if venue is None else executions.routing_of(venue),
        dealer=settings.pricing.dealer_policy(),
        rfq_wait=dt.timedelta(seconds=settings.pricing.rfq_wait_seconds),
    )
    if venue is not None:
        venue.receive = executions.receiver(desk)
    personal.install(sessions, desk.envelope)  # access-log details sealed with the desk's keys
    record_hooks.install(sessions, activity.on_record)  # linked chats join their client
    if settings.surveillance.enabled:
        record_hooks.install(sessions, surveillance_of(settings, desk).on_record)
    counter = DatabaseCounter(engine) if settings.shares_state else MemoryCounter()
    throttle = SourceThrottle(limit=settings.auth.anonymous_per_minute, counter=counter)
    scanner = scanner_from(settings.documents)
    limits = RateLimits(settings.limits.per_minute, counter=counter)
    hub = Hub()
    signals.install(sessions, hub.publish)  # pages following a conversation see it change
    return Platform(settings, engine, sessions, desk, scanner, throttle, limits, venue, hub)


def fix_venue(settings: Settings, sessions: sessionmaker[Session]) -> FixVenue | None:
    """The FIX sessions to the liquidity providers, when orders go over FIX (not started here);
    what their messages mean is the order domain's (`orders.routing`, `orders.reports`)."""
    if settings.execution.venue != "fix":
        return None
    from dealchat.execution.fix.runtime import FixVenue  # noqa: PLC0415 - the binding only here

    return FixVenue(
        settings.execution,
        settings.data_dir,
        sessions,
        build=routing.build,
        receive=lambda *_args: None,  # replaced by the desk's receiver once the desk exists
    )


def surveillance_of(settings: Settings, desk: Desk) -> Surveillance:
    """Lexicon and pattern surveillance, reading messages through the desk's transcript."""
    config = settings.surveillance
    params = PatternParams(
        structuring_threshold=config.structuring_threshold,
        structuring_band=config.structuring_band,
        structuring_count=config.structuring_count,
        structuring_window=dt.timedelta(hours=config.structuring_window_hours),
        usual_min_history=config.usual_min_history,
        usual_lookback=dt.timedelta(days=config.usual_lookback_days),
    )
    return Surveillance(messages=Transcript(desk), params=params)


def key_encryption_key(settings: Settings) -> KeyEncryptionKey:
    """The KEK port chosen by name in settings (records/envelope_kek.py)."""
    if settings.envelope.kek == "memory":
        return MemoryKek()
    return FileKek(settings.keys_dir / "kek")


def pretrade(settings: Settings) -> PreTrade | None:
    controls = settings.controls
    if not controls.enabled:
        return None
    return PreTrade.load(
        rules_file=controls.rules_file,
        rates_file=controls.rates_file,
        default_counterparty=settings.pricing.counterparty,
    )


def auth_policy(settings: Settings) -> AuthPolicy:
    auth = settings.auth
    return AuthPolicy(
        link_ttl=dt.timedelta(seconds=auth.link_ttl_seconds),
        stepup_ttl=dt.timedelta(seconds=auth.stepup_ttl_seconds),
        session_idle=dt.timedelta(minutes=auth.chat_session_idle_minutes),
        session_absolute=dt.timedelta(hours=auth.chat_session_absolute_hours),
        lockout=LockoutPolicy(
            account_free_failures=auth.lockout_free_failures,
            account_base_delay=dt.timedelta(seconds=auth.lockout_base_delay_seconds),
            account_max_delay=dt.timedelta(seconds=auth.lockout_max_delay_seconds),
            hard_threshold=auth.lockout_hard_threshold,
            source_free_failures=auth.source_free_failures,
            source_max_delay=dt.timedelta(seconds=auth.source_max_delay_seconds),
            source_window=dt.timedelta(minutes=auth.source_window_minutes),
        ),
        directory=DirectoryLogin(settings.directory) if settings.directory.bind_login else None,
    )


# The modules whose `router` the app serves, in the order their routes are matched.
_ROUTED = (
    webchat_views,
    identity_views,
    enrol_views,
    reset_views,
    oidc_views,
    saml_views,
    federated_login,
    auth_views,
    audit_views,
    surveillance_views,
    controls_views,
    console_holds,
    console_rfqs,
    receipt_views,
    upload_views,
    documents_views,
    retention_views,
    admin_views,
    console_views,
    console_users,
    console_conversations,
    console_alerts,
    console_documents,
    console_recon,
    console_search,
    console_review,
    console_compliance,
    search_views,
)


def create_app(
    settings: Settings | None = None,
    *,
    platform: Platform | None = None,
    adapters: dict[str, ChannelAdapter] | None = None,
    on_reply: Callable[[], None] | None = None,
    role: str = "all",
) -> FastAPI:
    """The platform's app. `adapters` replaces the channels settings turn on (tests);
    `on_reply` is called after replies were committed to the outbox (wakes the dispatcher).
    `role="core"` leaves the webhooks to an edge and opens the sealed edge link instead."""
    platform = platform or build_platform(settings or Settings())
    app = FastAPI(title="dealchat", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.platform = platform
    # The step-up page shows the ticket it approves (identity reads no orders: a hook).
    default_lp = platform.settings.pricing.counterparty
    if platform.desk.routing is not None:
        default_lp = platform.desk.routing.default or default_lp
    app.state.ticket_rows = signing.ticket_rows(default_lp)
    if adapters is None:
        adapters = build_adapters(
            platform.settings.channels, public_url=platform.settings.public_url
        )
    sink: InboundSink = LocalSink(platform.sessions, platform.desk, on_committed=on_reply)
    app.state.channels = webhooks.ChannelRuntime(adapters, sink, platform.desk.clock)
    link = edge_link(platform.settings, role="core") if role == "core" else None
    _share_replays(platform, adapters, link)
    if link is not None:
        edge.install_core(app, link)
    else:
        if platform.settings.bus.url:  # webhooks answer once the stream holds the message
            publisher = bus.BusSink(platform.settings.bus, name="dealchat")
            app.state.channels.sink = publisher
            app.router.on_shutdown.append(publisher.close)
        app.include_router(webhooks.router)
    api_errors.install(app)
    at_once = platform.settings.serve.requests_at_once or REQUESTS_AT_ONCE.get(
        platform.engine.dialect.name, 8
    )
    _wrap(app, platform.settings, requests_at_once=at_once)
    _add_health(app, _health(platform))
    for module in _ROUTED:
        app.include_router(module.router)
    return app


def _wrap(app: FastAPI, settings: Settings, *, requests_at_once: int | None = None) -> None:
    """The one plain ASGI layer every request passes (api.front.Front): client address, request
    gate (None: none), control characters, body limits, security headers, access-log line."""
    app.add_middleware(
        Front,
        trusted_proxies=settings.auth.trusted_proxies,
        requests_at_once=requests_at_once,
    )


def _share_replays(
    platform: Platform, adapters: dict[str, ChannelAdapter], link: Link | None
) -> None:
    """When processes share state (`Settings.shares_state`), the adapters' replay guards and
    the core's end of the edge link check the database: a request replayed to another worker
    or node is refused there too."""
    if platform.settings.shares_state:
        store = replays.DatabaseReplays(platform.sessions)
        replays.share(adapters, store)
        if link is not None:
            link.replays.share(store, "edge-link")


def edge_link(settings: Settings, *, role: str) -> Link:
    """This role's end of the edge-core link: its own key and certificate (made on first run)
    and the peer's pinned certificate from settings."""
    config = settings.channels.link
    if config.peer_certificate is None:
        raise ValueError(
            "DEALCHAT_CHANNELS__LINK__PEER_CERTIFICATE must name the other role's .crt"
        )
    return Link(
        load_or_create_identity(settings.keys_dir / "link", role),
        load_certificate(config.peer_certificate),
        role=role,
        peer_role="core" if role == "edge" else "edge",
        window=dt.timedelta(seconds=config.window_seconds),
        max_data_bytes=edge.relay_data_bytes(settings.documents.max_upload_bytes),
    )


def create_edge_app(settings: Settings) -> FastAPI:
    """The edge: channel webhooks and link pages, no database. Verified messages and link-page
    requests go to the core at DEALCHAT_CHANNELS__LINK__CORE_URL as sealed envelopes."""
    core_url = settings.channels.link.core_url.rstrip("/")
    if not core_url.startswith(("http://", "https://")):
        raise ValueError("DEALCHAT_CHANNELS__LINK__CORE_URL must be the core's http(s) URL")
    link = edge_link(settings, role="edge")
    adapters = build_adapters(settings.channels, public_url=settings.public_url)
    adapters.pop("webchat")  # its page answers from the database: served by the core
    sink: InboundSink = edge.RemoteSink(link, core_url, httpx.Client(timeout=30.0))
    if settings.bus.url:  # messages to the stream, which the core nodes consume
        sink = bus.BusSink(settings.bus, name="dealchat-edge")
    app = FastAPI(title="dealchat-edge", version="0.1.0", docs_url=None, redoc_url=None)
    if isinstance(sink, bus.BusSink):
        app.router.on_shutdown.append(sink.close)
    app.state.channels = webhooks.ChannelRuntime(adapters, sink)
    app.state.link = link
    app.state.max_upload_bytes = settings.documents.max_upload_bytes  # refused here when over
    app.state.core_client = httpx.AsyncClient(base_url=core_url, timeout=30.0)
    api_errors.install(app)
    _wrap(app, settings)
    _add_health(app, _alive)
    app.include_router(webhooks.router)
    app.include_router(edge.edge_router)
    return app


def _add_health(app: FastAPI, health: Callable[[], Awaitable[dict[str, str]]]) -> None:
    """`GET /healthz`, the first route matched (a load balancer asks often)."""
    app.add_api_route(
        "/healthz",
        health,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[Depends(public("health check for the load balancer, says nothing"))],
    )


async def _alive() -> dict[str, str]:
    return {"status": "ok"}


def _health(platform: Platform) -> Callable[[], Awaitable[dict[str, str]]]:
    """Ok when the database answered a `SELECT 1` (in a snapshot: never SQLite's write lock)
    within the last HEALTH_FRESH_SECONDS; only then is it asked again, in the thread pool, so
    probes cost the database and the pool nothing however often they come. A failed check
    is never remembered: the next probe asks again."""
    snapshots = snapshot_engine(platform.engine)
    answered = [-math.inf]  # time.monotonic() of the last check that passed

    def check() -> None:
        with snapshots.connect() as connection:
            connection.execute(text("SELECT 1"))
        answered[0] = time.monotonic()

    async def health() -> dict[str, str]:
        if time.monotonic() - answered[0] >= HEALTH_FRESH_SECONDS:
            await run_in_threadpool(check)
        return {"status": "ok"}

    return health
