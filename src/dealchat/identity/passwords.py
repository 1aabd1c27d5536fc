"""Password rules (NIST SP 800-63B) and argon2id hashing with rehash when parameters change.

The rules, checked on every create, change and reset, whatever the door (CLI, API, page):
- at most 128 characters after NFKC normalisation, and at least 8 where the password is always
  used with a second factor (clients: every login and confirmation needs one), 15 where it may be
  the only factor (bank staff: a trusted network waives their code at login), as SP 800-63B asks;
- no composition rules (no "one digit, one symbol");
- not one of the common passwords shipped in `data/common_passwords.txt` (see `data/README.md`
  for its source and licence), compared case-insensitively;
- not the username, not containing it, not the service's name, not one character repeated.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8  # with a second factor
MIN_LENGTH_ALONE = 15  # where the password may be the only factor (SP 800-63B 3.1.1.2)
MAX_LENGTH = 128  # NIST asks that at least 64 be allowed
UNSET = "!unset"  # never a valid argon2 hash: no password yet (chosen at enrolment)
SERVICE_WORDS = ("dealchat",)

_HASHER = PasswordHasher()  # argon2id, the library's current recommended (RFC 9106) parameters
_DUMMY_HASH = _HASHER.hash("dealchat-dummy-password-for-equal-work")


class PasswordRejectedError(ValueError):
    """A new password breaks a rule; the message says which, never the password."""


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def blocklist() -> frozenset[str]:
    text = resources.files("dealchat.identity").joinpath("data/common_passwords.txt")
    return frozenset(line.strip() for line in text.read_text("utf-8").splitlines() if line)


def min_length(kind: str) -> int:
    """An internal user's password may be the only factor (from a trusted network); an external
    user's never is."""
    return MIN_LENGTH_ALONE if kind == "internal" else MIN_LENGTH


def check_new_password(password: str, *, username: str, kind: str = "external") -> None:
    """Raise PasswordRejectedError naming the rule a new password breaks."""
    candidate = normalise(password)
    folded = candidate.casefold()
    shortest = min_length(kind)
    if len(candidate) < shortest:
        raise PasswordRejectedError(f"password: at least {shortest} characters")
    if len(candidate) > MAX_LENGTH:
        raise PasswordRejectedError(f"password: at most {MAX_LENGTH} characters")
    if folded in blocklist():
        raise PasswordRejectedError("password: too common (it is on a list of leaked passwords)")
    name = username.strip().casefold()
    if len(name) >= 3 and name in folded:
        raise PasswordRejectedError("password: must not contain the username")
    if any(word in folded for word in SERVICE_WORDS):
        raise PasswordRejectedError("password: must not contain the service's name")
    if len(set(folded)) == 1:
        raise PasswordRejectedError("password: must not be one character repeated")


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _HASHER).hash(normalise(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; no hash (unknown user) costs the same work (dummy hash)."""
    if len(password) > 4 * MAX_LENGTH:
        password = password[: 4 * MAX_LENGTH]  # bounded work; such a password never matches
        password_hash = None
    try:
        matched = _HASHER.verify(password_hash or _DUMMY_HASH, normalise(password))
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def burn_equal_work() -> None:
    """Spend the time of one verification, for answers that must not differ in work."""
    verify_password(None, "dealchat-equal-work")
