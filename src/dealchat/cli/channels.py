"""`dealchat channels list|check|dead|requeue`: which channels are on, whether their platforms
answer, what the outbox holds, and sending a dead letter again. Secrets are never printed, only
whether and where they are set."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import func, select

from dealchat.access.rights import Right
from dealchat.channels import outbox
from dealchat.channels.config import ChannelSettings, LinkSettings
from dealchat.channels.interfaces import DeliveryFailed, Rejected
from dealchat.channels.link import load_certificate, thumbprint
from dealchat.channels.outbox import DEAD, OutboxItem
from dealchat.channels.registry import FACTORIES
from dealchat.cli.common import platform
from dealchat.cli.guard import TokenOption, acting, host_operator, requires
from dealchat.db.session import unit_of_work
from dealchat.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Chat channels: settings, reachability, delivery.")

DbOption = Annotated[bool, typer.Option(help="Also count the outbox per channel and state.")]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():  # loc and msg only: an input could be a secret
            where = ".".join(str(part) for part in problem["loc"])
            typer.echo(f"settings: {where}: {problem['msg']}", err=True)
        raise typer.Exit(1) from None


def _secrets(section: ChannelSettings) -> str:
    shown = []
    for name in section.secret_names():
        if getattr(section, f"{name}_file") is not None:
            shown.append(f"{name}=file")
        elif getattr(section, name) is not None:
            shown.append(f"{name}=set")
        else:
            shown.append(f"{name}=missing")
    return " ".join(shown)


@app.command("list")
@host_operator("reads the host's channel settings and outbox counts; prints no secret")
def list_channels(outbox: DbOption = True) -> None:
    """Every channel, on or off, with its webhook path, API, rate and which secrets are set."""
    settings = _settings()
    counts = _outbox_counts(settings) if outbox else Counter[tuple[str, str]]()
    typer.echo("webchat   on   /api/v1/webchat/messages" + _counted(counts, "webchat"))
    for name, section in settings.channels.sections().items():
        state = "on " if section.enabled else "off"
        typer.echo(
            f"{name:<9} {state}  /channels/{name}/webhook  {section.api_url}  "
            f"{section.rate_per_second:g}/s burst {section.burst}  {_secrets(section)}"
            + _counted(counts, name)
        )


def _outbox_counts(settings: Settings) -> Counter[tuple[str, str]]:
    with platform(settings) as built, unit_of_work(built.sessions) as session:
        rows = session.execute(
            select(OutboxItem.channel, OutboxItem.state, func.count()).group_by(
                OutboxItem.channel, OutboxItem.state
            )
        ).all()
    return Counter({(channel, state): int(n) for channel, state, n in rows})


def _counted(counts: Counter[tuple[str, str]], name: str) -> str:
    found = {state: n for (channel, state), n in counts.items() if channel == name}
    if not found:
        return ""
    return "  outbox " + " ".join(f"{state}={n}" for state, n in sorted(found.items()))


@app.command("check")
@host_operator("asks each configured platform who we are, with the host's credentials")
def check() -> None:
    """Build every enabled channel and ask its platform who we are (no message is sent)."""
    settings = _settings()
    failed = 0
    enabled = {n: s for n, s in settings.channels.sections().items() if s.enabled}
    if not enabled:
        typer.echo("no webhook channel is enabled (DEALCHAT_CHANNELS__<NAME>__ENABLED=true)")
    for name, section in enabled.items():
        try:
            detail = FACTORIES[name](section).check()  # type: ignore[attr-defined]
        except (DeliveryFailed, Rejected, ValueError, OSError) as error:
            failed += 1
            typer.echo(f"{name}: FAILED {type(error).__name__}: {_reason(error)}", err=True)
        else:
            typer.echo(f"{name}: ok, {detail}")
    failed += _check_link(settings.channels.link)
    if failed:
        raise typer.Exit(1)


def _reason(error: Exception) -> str:
    if isinstance(error, DeliveryFailed):
        return error.reason
    if isinstance(error, Rejected | ValueError):
        return str(error)
    return type(error).__name__  # an OSError can name a path; that is all it says


def _check_link(link: LinkSettings) -> int:
    if link.peer_certificate is None:
        return 0
    try:
        peer = load_certificate(link.peer_certificate)
    except (OSError, ValueError) as error:
        typer.echo(f"link: FAILED peer certificate: {type(error).__name__}", err=True)
        return 1
    typer.echo(
        f"link: peer {peer.subject.rfc4514_string()} sha256 {thumbprint(peer)} "
        f"valid until {peer.not_valid_after_utc:%Y-%m-%d}"
        + (f", core at {link.core_url}" if link.core_url else "")
    )
    return 0


@app.command("dead")
@host_operator("read-only list of undelivered messages on the host (no message text)")
def dead_letters() -> None:
    """Messages the dispatcher gave up on: id, channel, tries, when, and the last error."""
    with platform(_settings()) as built, unit_of_work(built.sessions) as session:
        rows = session.scalars(
            select(OutboxItem).where(OutboxItem.state == DEAD).order_by(OutboxItem.finished_at)
        ).all()
        for item in rows:
            when = f"{item.finished_at:%Y-%m-%dT%H:%M:%SZ}" if item.finished_at else "-"
            typer.echo(
                f"{item.id}  {item.channel}  tries={item.attempts}  {when}  {item.last_error}"
            )
    if not rows:
        typer.echo("no dead letters")


@app.command("requeue")
@requires(Right.CHANNEL_MANAGE)
def requeue_item(
    item_id: Annotated[str, typer.Argument(help="An id from `channels dead`.")],
    token: TokenOption,
) -> None:
    """Deliver a dead-lettered message again, with fresh tries (audited delivery:requeued)."""
    missing = None
    with acting(token, Right.CHANNEL_MANAGE, "channels requeue") as (built, session, actor):
        try:
            outbox.requeue(session, item_id=item_id, actor=actor.audit_name, now=built.desk.clock())
        except LookupError as error:
            missing = str(error)
    if missing is not None:
        typer.echo(missing, err=True)
        raise typer.Exit(1)
    typer.echo(f"requeued {item_id}")
