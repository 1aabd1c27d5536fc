"""Trusted networks: CIDR ranges (IPv4 and IPv6) from which an internal user may log in without
the second factor. Never an external user, never a confirmation (a step-up): `login.decide` asks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import proxies
from dealchat.identity.models import TrustedNetwork
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new


def _canonical(cidr: str) -> str:
    try:
        (network,) = proxies.parse_networks([cidr])
    except ValueError as exc:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    if network.prefixlen == 0:
        raise DealchatError(ErrorCode.BAD_REQUEST, "a network of the whole internet is not trusted")
    return str(network)


def add(session: Session, *, cidr: str, label: str, actor: str, now: dt.datetime) -> TrustedNetwork:
    canonical = _canonical(cidr)
    if session.scalar(select(TrustedNetwork.id).where(TrustedNetwork.cidr == canonical)):
        raise DealchatError(ErrorCode.CONFLICT, f"{canonical} is already trusted", http_status=409)
    row = TrustedNetwork(
        cidr=canonical, label=label.strip()[:100], created_at=now, created_by=actor
    )
    record_new(
        session,
        row,
        event=AuditEvent.NETWORK_TRUSTED,
        actor=actor,
        kind="network",
        payload={"cidr": canonical, "label": row.label},
    )
    return row


def listed(session: Session) -> list[TrustedNetwork]:
    return list(session.scalars(select(TrustedNetwork).order_by(TrustedNetwork.cidr)))


def remove(session: Session, *, cidr: str, actor: str) -> None:
    canonical = _canonical(cidr)
    row = session.scalar(select(TrustedNetwork).where(TrustedNetwork.cidr == canonical))
    if row is None:
        raise DealchatError(ErrorCode.NOT_FOUND, f"{canonical} is not trusted", http_status=404)
    session.delete(row)
    record(
        session,
        event=AuditEvent.NETWORK_UNTRUSTED,
        actor=actor,
        subject=f"network:{row.id}",
        payload={"cidr": canonical},
    )


def trusted_range(session: Session, address: str | None) -> str | None:
    """The trusted range holding `address`, or None."""
    parsed = proxies.parse_address(address)
    if parsed is None:
        return None
    ranges = proxies.parse_networks(row.cidr for row in listed(session))
    found = proxies.within(parsed, ranges)
    return str(found) if found is not None else None
