"""The two factors: argon2id passwords (`passwords`) and RFC 6238 TOTP codes (+-1 step, once)."""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp

from dealchat.identity import passwords

STEP_SECONDS = 30


def hash_password(password: str) -> str:
    """Hash a password (the rules are `passwords.check_new_password`, applied by the services)."""
    return passwords.hash_password(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown user costs the same time (dummy hash)."""
    return passwords.verify_password(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return passwords.needs_rehash(password_hash)


def new_totp_secret() -> str:
    """160 random bits, base32 (RFC 6238 / RFC 4226 recommend at least 128)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str, *, now: dt.datetime) -> int | None:
    """The time step (+-1 around now) whose code equals `code`, compared in constant time."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            found = step
    return found
