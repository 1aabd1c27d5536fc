"""Directory sync (ldap3): internal users and their roles from Active Directory.

`read` (the adapter) binds to the directory over TLS (ldaps:// or StartTLS, the certificate
verified) and reads the users under `user_base` (all of them on a full run; on a delta run those
whose `change_attribute`, uSNChanged on AD, passed the last run's mark) and every group under
`group_base`. `apply` (no I/O) makes the database agree, each change audited with what changed:

- an entry new to us becomes an internal user (no password: they log in by SSO) linked by the
  entry's lasting id (`id_attribute`: objectGUID on AD); an entry whose username a local user
  already holds is not taken over (audited as a conflict);
- a changed display name or DN is updated;
- userAccountControl's ACCOUNTDISABLE bit, or (on a full run) an entry that left the scope or was
  deleted, disables the user: locked, every console session and API token ended at once; enabled
  again in the directory, enabled here;
- the group-to-role mapping in force (group DN -> role; proposed by one administrator, in force
  once a second one approves it, like rule set versions) decides the mapped roles of every
  synchronised user, from all groups on every run, so a group change moves a role even on a
  delta run. Roles not named in the mapping are left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

with warnings.catch_warnings():  # ldap3 2.9 reads pyasn1's deprecated tagMap names at import
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from dealchat.access import service as access
from dealchat.access.models import Role, RoleAssignment
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import sessions
from dealchat.identity.ldap_tls import DirectoryError, close, open_tls, server_for
from dealchat.identity.models import DirectoryAccount, DirectoryMapping, DirectoryState, User
from dealchat.identity.parties import record_user_created
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.service import record, record_new
from dealchat.settings import DirectorySettings

ACCOUNTDISABLE = 0x2  # userAccountControl
NO_PASSWORD = "!directory"  # noqa: S105 - never a valid argon2 hash: no password login
ACTOR = "directory:sync"
_STATE = "default"
_PAGE = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Person:
    directory_id: str
    dn: str
    username: str
    display_name: str | None
    disabled: bool
    change: str | None


@dataclass(frozen=True)
class Snapshot:
    people: list[Person]
    groups: dict[str, set[str]]  # group DN (lower case) -> member DNs (lower case)
    full: bool


@dataclass
class Report:
    full: bool
    read: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    roles_added: list[str] = field(default_factory=list)
    roles_removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    high_water: str | None = None

    def counts(self) -> dict[str, Any]:
        return {
            "full": self.full,
            "read": self.read,
            **{
                name: len(getattr(self, name))
                for name in (
                    "created",
                    "updated",
                    "disabled",
                    "enabled",
                    "roles_added",
                    "roles_removed",
                    "conflicts",
                )
            },
            "high_water": self.high_water,
        }


# ---- the adapter: ldap3 ----------------------------------------------------------------------


def connect(settings: DirectorySettings) -> ldap3.Connection:
    """A bound connection (the service account) over verified TLS, or DirectoryError."""
    if not (settings.url and settings.bind_dn):
        raise DirectoryError("set DEALCHAT_DIRECTORY__URL and __BIND_DN")
    connection = ldap3.Connection(
        server_for(settings, timeout=settings.timeout_seconds),
        settings.bind_dn,
        settings.password(),
        receive_timeout=settings.timeout_seconds,
        raise_exceptions=False,
    )
    try:
        open_tls(connection)
        if not connection.bind():
            raise DirectoryError("bind-failed")
    except (LDAPException, DirectoryError) as error:
        close(connection)
        if isinstance(error, DirectoryError):
            raise
        raise DirectoryError(f"tls-or-connection:{type(error).__name__}") from error
    return connection


def _raw(entry: dict[str, Any], name: str) -> str | None:
    values = entry["raw_attributes"].get(name) or []
    if not values:
        return None
    value: bytes = values[0]
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.hex()  # objectGUID is 16 bytes


def _since_filter(settings: DirectorySettings, high_water: str | None) -> str:
    if high_water is None:
        return settings.user_filter
    name = settings.change_attribute
    if high_water.isdigit():  # uSNChanged: an integer that grows with every change
        return f"(&{settings.user_filter}({name}>={int(high_water) + 1}))"
    # an ordered string (OpenLDAP's entryCSN, microseconds): strictly after the mark
    return f"(&{settings.user_filter}(!({name}<={escape_filter_chars(high_water)})))"


def _search(
    connection: ldap3.Connection, base: str, query: str, attributes: list[str]
) -> list[Any]:
    found = connection.extend.standard.paged_search(
        base, query, attributes=attributes, paged_size=_PAGE, generator=False
    )
    if connection.result.get("result") not in (0, None):
        raise DirectoryError(f"search-failed:{connection.result.get('description')}")
    return [entry for entry in found if entry.get("type") == "searchResEntry"]


def read(settings: DirectorySettings, *, high_water: str | None, full: bool) -> Snapshot:
    """What the directory holds now (users since `high_water` unless `full`, all groups)."""
    if not (settings.user_base and settings.group_base):
        raise DirectoryError("set DEALCHAT_DIRECTORY__USER_BASE and __GROUP_BASE")
    connection = connect(settings)
    try:
        wanted = [
            settings.id_attribute,
            settings.username_attribute,
            settings.display_attribute,
            "userAccountControl",
            settings.change_attribute,
        ]
        query = _since_filter(settings, None if full else high_water)
        people = []
        for entry in _search(connection, settings.user_base, query, wanted):
            directory_id = _raw(entry, settings.id_attribute)
            username = _raw(entry, settings.username_attribute)
            if not (directory_id and username):
                continue
            control = _raw(entry, "userAccountControl")
            people.append(
                Person(
                    directory_id=directory_id,
                    dn=str(entry["dn"]),
                    username=username.strip().lower()[:64],
                    display_name=(_raw(entry, settings.display_attribute) or None),
                    disabled=bool(int(control or 0) & ACCOUNTDISABLE),
                    change=_raw(entry, settings.change_attribute),
                )
            )
        groups = {
            str(entry["dn"]).lower(): {
                member.decode("utf-8").lower()
                for member in entry["raw_attributes"].get("member", [])
            }
            for entry in _search(connection, settings.group_base, settings.group_filter, ["member"])
        }
    finally:
        connection.unbind()
    return Snapshot(people, groups, full)


# ---- the database agrees ----------------------------------------------------------------------


def _later(one: str | None, other: str | None) -> str | None:
    if one is None or other is None:
        return one or other
    if one.isdigit() and other.isdigit():
        return one if int(one) >= int(other) else other
    return max(one, other)


def state(session: Session, *, lock: bool = False) -> DirectoryState | None:
    """Where the last run got to; `lock` holds the row so two processes never sync at once."""
    return session.get(DirectoryState, _STATE, with_for_update=lock)


def apply(
    session: Session, snapshot: Snapshot, *, settings: DirectorySettings, now: dt.datetime
) -> Report:
    """Make users, their state and their mapped roles agree with `snapshot`; all audited."""
    report = Report(full=snapshot.full, read=len(snapshot.people))
    current = state(session)
    high_water = current.high_water if current is not None else None
    seen: set[str] = set()
    for person in snapshot.people:
        seen.add(person.directory_id)
        high_water = _later(high_water, person.change)
        _apply_person(session, person, report=report, now=now)
    if snapshot.full:
        gone = session.scalars(
            select(DirectoryAccount).where(
                DirectoryAccount.directory_id.not_in(seen), DirectoryAccount.disabled.is_(False)
            )
        ).all()
        for account in gone:
            _disable(session, account, reason="left the directory's scope", report=report, now=now)
    _apply_roles(session, snapshot.groups, active_mapping(session), report=report)
    report.high_water = high_water
    if current is None:
        current = DirectoryState(name=_STATE, last_run_at=now)
        session.add(current)
    current.high_water, current.last_run_at = high_water, now
    if snapshot.full:
        current.last_full_at = now
    record(
        session,
        event=AuditEvent.DIRECTORY_SYNCED,
        actor=ACTOR,
        subject=f"directory:{_STATE}",
        payload=report.counts(),
    )
    return report


def _apply_person(session: Session, person: Person, *, report: Report, now: dt.datetime) -> None:
    account = session.scalar(
        select(DirectoryAccount).where(DirectoryAccount.directory_id == person.directory_id)
    )
    if account is None:
        account = _create(session, person, report=report, now=now)
        if account is None:
            return
    user = session.get_one(User, account.user_id)
    changed: dict[str, list[str | None]] = {}
    if person.display_name != user.display_name:
        changed["display_name"] = [user.display_name, person.display_name]
        user.display_name = person.display_name[:100] if person.display_name else None
    if person.dn != account.dn:
        changed["dn"] = [account.dn, person.dn]
        account.dn = person.dn[:1000]
    account.synced_at = now
    if changed:
        report.updated.append(user.id)
        record_sealed(  # names and DNs identify the person: sealed under their month
            session,
            event=AuditEvent.USER_DIRECTORY_UPDATED,
            actor=ACTOR,
            subject=f"user:{user.id}",
            payload={"fields": sorted(changed)},
            person=user.id,
            details={"changed": changed},
            at=now,
        )
    if person.disabled and (not account.disabled or user.locked_at is None):
        # also when someone unlocked the user here while the directory still says disabled
        _disable(session, account, reason="disabled in the directory", report=report, now=now)
    elif not person.disabled and account.disabled:
        _enable(session, account, report=report, now=now)


def _create(
    session: Session, person: Person, *, report: Report, now: dt.datetime
) -> DirectoryAccount | None:
    taken = session.scalar(select(User.id).where(User.username == person.username))
    if taken is not None or len(person.username) < 3:
        report.conflicts.append(person.directory_id)
        record(
            session,
            event=AuditEvent.DIRECTORY_CONFLICT,
            actor=ACTOR,
            subject=f"user:{taken}" if taken else "user:unknown",
            payload={"directory_id": person.directory_id, "why": "username taken or too short"},
        )
        return None
    user = User(
        username=person.username,
        kind="internal",
        password_hash=NO_PASSWORD,
        display_name=person.display_name[:100] if person.display_name else None,
    )
    record_user_created(session, user, actor=ACTOR, payload={"kind": "internal", "directory": True})
    account = DirectoryAccount(
        directory_id=person.directory_id,
        dn=person.dn[:1000],
        user_id=user.id,
        disabled=False,
        synced_at=now,
    )
    session.add(account)
    session.flush()
    report.created.append(user.id)
    return account


def _disable(
    session: Session, account: DirectoryAccount, *, reason: str, report: Report, now: dt.datetime
) -> None:
    user = session.get_one(User, account.user_id)
    account.disabled = True
    if user.locked_at is None:
        user.locked_at = now
    ended = sessions.revoke_all(session, user_id=user.id, reason=f"directory: {reason}", now=now)
    report.disabled.append(user.id)
    record(
        session,
        event=AuditEvent.USER_DISABLED,
        actor=ACTOR,
        subject=f"user:{user.id}",
        payload={"reason": reason, "sessions_and_tokens_ended": ended},
    )


def _enable(
    session: Session, account: DirectoryAccount, *, report: Report, now: dt.datetime
) -> None:
    user = session.get_one(User, account.user_id)
    account.disabled = False
    user.locked_at = None
    report.enabled.append(user.id)
    record(
        session,
        event=AuditEvent.USER_ENABLED,
        actor=ACTOR,
        subject=f"user:{user.id}",
        payload={"reason": "enabled in the directory", "at": now},
    )


def _apply_roles(
    session: Session, groups: dict[str, set[str]], mapping: dict[str, str], *, report: Report
) -> None:
    if not mapping:
        return
    mapped = {dn.lower(): role for dn, role in mapping.items()}
    managed = set(mapped.values())
    system = access.system_actor()
    accounts = session.scalars(
        select(DirectoryAccount).where(DirectoryAccount.disabled.is_(False))
    ).all()
    for account in accounts:
        user = session.get_one(User, account.user_id)
        dn = account.dn.lower()
        wanted = {role for group, role in mapped.items() if dn in groups.get(group, set())}
        held = _roles(session, user.id, managed)
        for role in sorted(wanted - held):
            access.assign(session, actor=system, role=role, username=user.username)
            report.roles_added.append(f"{user.id}:{role}")
        for role in sorted(held - wanted):
            access.unassign(session, actor=system, role=role, username=user.username)
            report.roles_removed.append(f"{user.id}:{role}")


def _roles(session: Session, user_id: str, among: Iterable[str]) -> set[str]:
    return set(
        session.scalars(
            select(Role.name)
            .join(RoleAssignment, RoleAssignment.role_id == Role.id)
            .where(RoleAssignment.user_id == user_id, Role.name.in_(list(among)))
        )
    )


def sync(session: Session, *, settings: DirectorySettings, full: bool, now: dt.datetime) -> Report:
    """One run: read the directory (TLS, bind), then make the database agree, in one transaction."""
    found = state(session, lock=True)
    full = full or found is None or found.high_water is None
    snapshot = read(settings, high_water=found.high_water if found else None, full=full)
    return apply(session, snapshot, settings=settings, now=now)


class Syncer:
    """`dealchat serve`'s periodic sync: a delta run every `interval_minutes`, a full run when the
    last one is `full_hours` old. A failed run is logged and changes nothing; the next one tries
    again."""

    def __init__(
        self,
        sessions_: sessionmaker[Session],
        settings: DirectorySettings,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._sessions, self._settings = sessions_, settings
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Syncer:
        self._thread = threading.Thread(target=self._loop, name="directory-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> Report:
        now = self._clock()
        with unit_of_work(self._sessions) as session:
            last = state(session)
            due = (
                last is None
                or last.last_full_at is None
                or (now - last.last_full_at >= dt.timedelta(hours=self._settings.full_hours))
            )
            return sync(session, settings=self._settings, full=due, now=now)

    def _loop(self) -> None:
        wait = self._settings.interval_minutes * 60
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the directory or the database was away: next time
                log.exception("directory sync failed")
            if self._stop.wait(wait):
                return


# ---- the group-to-role mapping: four eyes ------------------------------------------------------

PROPOSED, ACTIVE, RETIRED, REFUSED = "proposed", "active", "retired", "refused"


def _canonical(mapping: dict[str, str]) -> str:
    return json.dumps(
        {dn.strip(): role.strip() for dn, role in mapping.items()}, sort_keys=True, indent=1
    )


def active_mapping(session: Session) -> dict[str, str]:
    """The approved mapping in force (none: no role is managed by the directory)."""
    body = session.scalar(select(DirectoryMapping.body).where(DirectoryMapping.state == ACTIVE))
    found: dict[str, str] = json.loads(body) if body else {}
    return found


def propose_mapping(
    session: Session, *, mapping: dict[str, str], actor: Actor, comment: str, now: dt.datetime
) -> DirectoryMapping:
    """A new version of the whole mapping, checked (every role exists, no external-only role);
    it waits for a second administrator."""
    access.check_manage(session, actor, Right.ROLE_MANAGE)
    if not mapping or any(not (dn.strip() and role.strip()) for dn, role in mapping.items()):
        raise DealchatError(ErrorCode.BAD_REQUEST, "a mapping names group DNs and roles")
    for role in sorted(set(mapping.values())):
        access.role_named(session, role.strip())
    body = _canonical(mapping)
    latest = session.scalar(select(func.max(DirectoryMapping.version)))
    row = DirectoryMapping(
        version=int(latest or 0) + 1,
        body=body,
        sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        state=PROPOSED,
        proposed_by=actor.user_id,
        proposed_at=now,
        comment=comment[:500],
    )
    record_new(
        session,
        row,
        event=AuditEvent.DIRECTORY_MAPPING_PROPOSED,
        actor=actor.audit_name,
        kind="directory-mapping",
        payload={"version": row.version, "sha256": row.sha256, "mapping": json.loads(body)},
    )
    return row


def decide_mapping(
    session: Session, *, mapping_id: str, actor: Actor, approve: bool, now: dt.datetime
) -> DirectoryMapping:
    """Approve (in force from the next sync; the previous version retires) or refuse; never by
    the administrator who proposed it."""
    access.check_manage(session, actor, Right.ROLE_MANAGE)
    row = session.scalar(
        select(DirectoryMapping).where(DirectoryMapping.id == mapping_id).with_for_update()
    )
    if row is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such mapping version", http_status=404)
    if row.state != PROPOSED:
        raise DealchatError(ErrorCode.CONFLICT, f"version is {row.state}", http_status=409)
    if row.proposed_by == actor.user_id:
        raise DealchatError(
            ErrorCode.FORBIDDEN, "a second administrator must approve a mapping", http_status=403
        )
    if approve:
        session.execute(
            update(DirectoryMapping)
            .where(DirectoryMapping.state == ACTIVE)
            .values(state=RETIRED)
            .execution_options(synchronize_session=False)
        )
    row.state, row.decided_by, row.decided_at = (ACTIVE if approve else REFUSED), actor.user_id, now
    record(
        session,
        event=(
            AuditEvent.DIRECTORY_MAPPING_APPROVED
            if approve
            else AuditEvent.DIRECTORY_MAPPING_REFUSED
        ),
        actor=actor.audit_name,
        subject=f"directory-mapping:{row.id}",
        payload={"version": row.version, "sha256": row.sha256},
    )
    return row
