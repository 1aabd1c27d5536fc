"""Console sessions and API tokens: hashed at rest, timeouts, rotation, revoke_all, proofs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity import sessions
from dealchat.identity.models import User
from dealchat.identity.session_models import ApiToken, AuthSession
from dealchat.records.models import AuditEntry
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.identity import make_user


def _start(platform: Platform, user_id: str) -> sessions.Started:
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        return sessions.start(
            session,
            user=user,
            factors=("password", "totp"),
            source_ip="10.0.0.7",
            channel="console",
            policy=platform.session_policy,
            now=platform.desk.clock(),
        )


def _resolve(platform: Platform, token: str) -> AuthSession | None:
    with unit_of_work(platform.sessions) as session:
        return sessions.resolve(
            session, token=token, policy=platform.session_policy, now=platform.desk.clock()
        )


def test_a_session_is_stored_hashed_and_ends_after_the_idle_timeout(
    platform: Platform, clock: Clock
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    started = _start(platform, dana.id)
    with unit_of_work(platform.sessions) as session:
        row = session.scalar(select(AuthSession))
        assert row is not None
        assert started.token not in (row.token_hash, row.id)
        assert row.token_hash == sessions.secret_hash(started.token)
    idle = platform.session_policy.idle
    clock.advance(idle.total_seconds() - 1)
    assert _resolve(platform, started.token) is not None  # use keeps it alive
    clock.advance(idle.total_seconds() - 1)
    assert _resolve(platform, started.token) is not None
    clock.advance(idle.total_seconds() + 1)
    assert _resolve(platform, started.token) is None
    with unit_of_work(platform.sessions) as session:
        ended = session.scalar(select(AuthSession))
        assert ended is not None
        assert ended.revoke_reason == "idle timeout"


def test_the_absolute_timeout_ends_even_an_active_session(platform: Platform, clock: Clock) -> None:
    dana = make_user(platform, "dana", kind="internal")
    started = _start(platform, dana.id)
    policy = platform.session_policy
    steps = int(policy.absolute / (policy.idle / 2))
    alive = [_resolve(platform, started.token) is not None for _ in range(1)]
    for _ in range(steps):
        clock.advance((policy.idle / 2).total_seconds())
        alive.append(_resolve(platform, started.token) is not None)
    assert alive[0]
    assert alive[-1] is False
    assert any(alive[1:])


def test_rotation_gives_a_new_id_and_secret_and_kills_the_old(
    platform: Platform, clock: Clock
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    first = _start(platform, dana.id)
    clock.advance(60)
    with unit_of_work(platform.sessions) as session:
        row = sessions.resolve(
            session, token=first.token, policy=platform.session_policy, now=clock.now
        )
        user = session.get(User, dana.id)
        assert row is not None
        assert user is not None
        second = sessions.rotate(session, row=row, user=user, now=clock.now)
        assert second.row.id != row.id
        assert second.row.expires_at == row.expires_at  # the absolute limit stays the login's
        assert second.row.authenticated_at == clock.now
    assert second.token != first.token
    assert second.csrf != first.csrf
    assert _resolve(platform, first.token) is None
    assert _resolve(platform, second.token) is not None


def test_revoke_all_ends_every_session_and_token_of_that_user_only(platform: Platform) -> None:
    dana = make_user(platform, "dana", kind="internal")
    other = make_user(platform, "omar", kind="internal")
    mine = [_start(platform, dana.id), _start(platform, dana.id)]
    theirs = _start(platform, other.id)
    my_token = token_for(platform, dana.id)
    with unit_of_work(platform.sessions) as session:
        count = sessions.revoke_all(session, user_id=dana.id, reason="password changed")
    assert count == 3
    assert all(_resolve(platform, s.token) is None for s in mine)
    assert _resolve(platform, theirs.token) is not None
    with unit_of_work(platform.sessions) as session:
        assert sessions.resolve_token(session, secret=my_token, now=platform.desk.clock()) is None
        entry = session.scalar(select(AuditEntry).where(AuditEntry.event == "session:revoked_all"))
        assert entry is not None
        assert "password changed" in entry.payload


def test_api_tokens_are_hashed_expire_and_can_be_revoked(platform: Platform, clock: Clock) -> None:
    dana = make_user(platform, "dana", kind="internal")
    secret = token_for(platform, dana.id)
    assert secret.startswith(sessions.TOKEN_PREFIX)
    with unit_of_work(platform.sessions) as session:
        row = sessions.resolve_token(session, secret=secret, now=clock.now)
        assert row is not None
        assert secret not in (row.token_hash, row.id)
        assert sessions.resolve_token(session, secret=secret + "x", now=clock.now) is None
        assert sessions.resolve_token(session, secret="dct_" + "A" * 43, now=clock.now) is None
    clock.advance(platform.session_policy.token_lifetime.total_seconds())
    with unit_of_work(platform.sessions) as session:
        assert sessions.resolve_token(session, secret=secret, now=clock.now) is None
    clock.now -= dt.timedelta(days=1)
    with unit_of_work(platform.sessions) as session:
        row = session.scalar(select(ApiToken))
        assert row is not None
        sessions.revoke_token(session, token_id=row.id, by="user:x", now=clock.now)
    with unit_of_work(platform.sessions) as session:
        assert sessions.resolve_token(session, secret=secret, now=clock.now) is None


def test_a_proof_is_spent_once_and_only_for_its_content(platform: Platform, clock: Clock) -> None:
    dana = make_user(platform, "dana", kind="internal")
    approved, other = "a" * 64, "b" * 64
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, dana.id)
        assert user is not None
        proof = sessions.grant_proof(
            session, user=user, content_hash=approved, policy=platform.session_policy, now=clock.now
        )
    with unit_of_work(platform.sessions) as session:
        assert sessions.live_proof(session, secret=proof, user_id=dana.id, now=clock.now)
        spend = {"secret": proof, "user_id": dana.id, "now": clock.now}
        assert not sessions.spend_proof(session, content_hash=other, **spend)
        assert sessions.spend_proof(session, content_hash=approved, **spend)
        assert not sessions.spend_proof(session, content_hash=approved, **spend)
        assert not sessions.live_proof(session, secret=proof, user_id=dana.id, now=clock.now)


def test_start_as_a_login_of_another_door_calls_it(platform: Platform) -> None:
    """The seam 4a's OpenID Connect login uses: start(session, *, user, factors, source_ip,
    channel) with the default policy and the current time."""
    dana = make_user(platform, "dana", kind="internal")
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, dana.id)
        assert user is not None
        started = sessions.start(
            session, user=user, factors=("oidc",), source_ip="192.0.2.1", channel="console"
        )
        assert started.row.factors == "oidc"
        assert started.row.expires_at - started.row.created_at == sessions.DEFAULT_POLICY.absolute
    with unit_of_work(platform.sessions) as session:
        row = sessions.resolve(
            session, token=started.token, policy=sessions.DEFAULT_POLICY, now=started.row.created_at
        )
        assert row is not None
        assert row.user_id == dana.id
