"""Users for tests, with known passwords and TOTP secrets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pyotp

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity.service import create_user


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a pytest class

    username: str
    password: str
    secret: str
    id: str

    def code(self, at_timestamp: float) -> str:
        return pyotp.TOTP(self.secret).at(int(at_timestamp))


def make_user(
    platform: Platform, username: str = "alice", kind: str = "external", password: str = ""
) -> TestUser:
    password = password or f"correct-horse-{secrets.token_hex(4)}"
    secret = pyotp.random_base32(32)
    with unit_of_work(platform.sessions) as session:
        user = create_user(
            session,
            sealer=platform.desk.sealer,
            username=username,
            password=password,
            kind=kind,
            totp_secret=secret,
            actor="test",
        )
        user_id = user.id
    return TestUser(username, password, secret, user_id)
