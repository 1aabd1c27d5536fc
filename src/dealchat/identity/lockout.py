"""Lockout: a per-account failure counter with a doubling, capped delay and a hard lock, and a
per-source counter that slows password spraying without locking out the accounts sprayed.

Exact under concurrency: an attempt first locks its source row, then its account row
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises writers), in that
order everywhere, and counts with `UPDATE ... SET n = n + 1`. Attempts refused because of a delay
or a lock test no password and are not counted: an attacker cannot lock a victim out faster by
hammering, only the hard threshold of tested failures locks, and only an administrator unlocks.

A source row holds an address (personal data) for its window only: `purge` (run by
`dealchat retention run`) deletes every row whose last failure is older than the window and whose
delay has ended, exactly the rows whose count the next attempt would reset anyway. An attempt that
finds its row deleted under it (a purge committed between its insert and its lock) inserts it again.
The per-account count lives on the account's own row and goes with it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dealchat.identity.models import LoginSource, User

HARD_THRESHOLD_MAX = 100  # NIST SP 800-63B: at most 100 consecutive failed attempts
UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True)
class LockoutPolicy:
    account_free_failures: int = 5
    account_base_delay: dt.timedelta = dt.timedelta(seconds=2)
    account_max_delay: dt.timedelta = dt.timedelta(minutes=15)
    hard_threshold: int = 50
    source_free_failures: int = 20
    source_base_delay: dt.timedelta = dt.timedelta(seconds=1)
    source_max_delay: dt.timedelta = dt.timedelta(minutes=15)
    source_window: dt.timedelta = dt.timedelta(hours=1)

    def __post_init__(self) -> None:
        if not 1 <= self.hard_threshold <= HARD_THRESHOLD_MAX:
            raise ValueError(f"hard_threshold must be 1-{HARD_THRESHOLD_MAX}")


def delay_after(failures: int, *, free: int, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """No delay for the first `free` failures, then base, 2*base, 4*base ... up to `cap`."""
    if failures < free:
        return dt.timedelta(0)
    grown: dt.timedelta = base * (2 ** min(failures - free, 32))
    return min(grown, cap)


def source_key(address: str | None) -> str:
    """An IPv4 address as is; an IPv6 address as its /64 (one host usually holds a whole /64)."""
    if not address:
        return UNKNOWN_SOURCE
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def lock_source(
    session: Session, key: str, *, policy: LockoutPolicy, now: dt.datetime
) -> LoginSource:
    """The source's row, created if new and locked; failures older than the window are forgotten."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = None
    while row is None:  # a purge may delete the row between the insert and the lock: insert again
        session.execute(insert(LoginSource).values(source=key, failures=0).on_conflict_do_nothing())
        row = session.scalars(
            select(LoginSource)
            .where(LoginSource.source == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
    if row.last_failure_at is not None and now - row.last_failure_at > policy.source_window:
        row.failures, row.delayed_until = 0, None
    return row


def purge(session: Session, *, policy: LockoutPolicy, now: dt.datetime) -> int:
    """Delete the source rows nothing needs any more: no failure within the window (the next
    attempt would reset their count) and no delay still running. Returns how many went."""
    cutoff = now - policy.source_window
    gone = session.execute(
        delete(LoginSource)
        .where(or_(LoginSource.last_failure_at.is_(None), LoginSource.last_failure_at < cutoff))
        .where(or_(LoginSource.delayed_until.is_(None), LoginSource.delayed_until <= now))
        .execution_options(synchronize_session=False)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def lock_account(session: Session, username: str) -> User | None:
    return session.scalars(
        select(User)
        .where(User.username == username)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def lock_account_by_id(session: Session, user_id: str) -> User:
    return session.scalars(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def refusal(source: LoginSource, user: User | None, *, now: dt.datetime) -> str | None:
    """Why this attempt is refused without testing anything, or None when it may go on."""
    if source.delayed_until is not None and source.delayed_until > now:
        return "source-delayed"
    if user is not None and user.locked_at is not None:
        return "account-locked"
    if user is not None and user.delayed_until is not None and user.delayed_until > now:
        return "account-delayed"
    return None


def count_source_failure(
    session: Session, source: LoginSource, *, policy: LockoutPolicy, now: dt.datetime
) -> None:
    failures = session.execute(
        update(LoginSource)
        .where(LoginSource.source == source.source)
        .values(failures=LoginSource.failures + 1, last_failure_at=now)
        .returning(LoginSource.failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    wait = delay_after(
        failures,
        free=policy.source_free_failures,
        base=policy.source_base_delay,
        cap=policy.source_max_delay,
    )
    source.failures, source.last_failure_at = failures, now
    source.delayed_until = now + wait if wait else None


def count_account_failure(
    session: Session, user: User, *, policy: LockoutPolicy, now: dt.datetime
) -> int:
    """Count one tested failure; delay or hard-lock as the count says. Returns the count."""
    failures = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    wait = delay_after(
        failures,
        free=policy.account_free_failures,
        base=policy.account_base_delay,
        cap=policy.account_max_delay,
    )
    user.failed_logins = failures
    user.delayed_until = now + wait if wait else None
    if failures >= policy.hard_threshold:
        user.locked_at = now
    return int(failures)


def clear_account(user: User) -> None:
    """A success (or an administrator's unlock) starts the count again."""
    user.failed_logins, user.delayed_until, user.locked_at = 0, None, None
