"""Directory bind login (`DEALCHAT_DIRECTORY__BIND_LOGIN=true`): a synchronised internal user's
password is checked by the directory, our second factor and lockout stay ours.

`login.decide` asks `DirectoryLogin.check` instead of the argon2 hash when the user is internal
and came from the directory (a `directory_account` row). The check:

- refuses an account the last sync found disabled or out of scope (no bind);
- refuses an empty password before any network call: a simple bind with a DN and no password is
  an unauthenticated ("anonymous") bind that most directories answer with success;
- binds as the user's DN from the last sync (no search, so nothing typed reaches a filter) over
  the same verified TLS as the sync (ldaps:// or StartTLS, `ca_file`), with its own short
  timeout, and unbinds at once. invalidCredentials is a wrong password (counted by our lockout
  like any); an unreachable directory, a TLS failure or any other answer is "directory
  unavailable": refused, not counted, and never a fallback to a local password (a synchronised
  user has none).

The password is passed to ldap3 and nowhere else: never logged, never stored, never in an audit
entry or an exception's text.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

with warnings.catch_warnings():  # ldap3 2.9 reads pyasn1's deprecated tagMap names at import
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException

from dealchat.identity import passwords
from dealchat.identity.ldap_tls import DirectoryError, close, open_tls, server_for
from dealchat.identity.models import DirectoryAccount, User
from dealchat.settings import DirectorySettings

INVALID_CREDENTIALS = 49  # LDAP result code

OK = "directory-password"
WRONG = "wrong-password"
EMPTY = "empty-password"
DISABLED = "directory-disabled"
UNAVAILABLE = "directory-unavailable"
# Refusals that tested no password: not counted by the lockout (an outage locks nobody out).
UNTESTED = frozenset({DISABLED, UNAVAILABLE})


@dataclass(frozen=True)
class DirectoryLogin:
    settings: DirectorySettings

    def account(self, session: Session, user: User | None) -> DirectoryAccount | None:
        """The directory record of `user` when the directory checks their password: internal
        users from the sync only (a client never logs in with a directory password)."""
        if user is None or user.kind != "internal":
            return None
        return session.scalar(select(DirectoryAccount).where(DirectoryAccount.user_id == user.id))

    def check(self, account: DirectoryAccount, password: str) -> str:
        """OK, or the refusal's rule (for the audit log only). A refusal without a bind costs
        one password verification's work, like the other refusals of `login.decide`."""
        refused = DISABLED if account.disabled else (EMPTY if not password else None)
        if refused is not None:
            passwords.burn_equal_work()
            return refused
        return bind_as(self.settings, account.dn, password)

    def __repr__(self) -> str:
        return f"DirectoryLogin({self.settings.url})"


def bind_as(settings: DirectorySettings, dn: str, password: str) -> str:
    """A simple bind as `dn` over verified TLS: OK, WRONG or UNAVAILABLE (with why)."""
    if not password:  # never an unauthenticated bind, whoever calls
        return EMPTY
    timeout = settings.login_timeout_seconds
    try:
        server = server_for(settings, timeout=timeout)
    except DirectoryError as error:
        return f"{UNAVAILABLE}:{error}"
    connection = ldap3.Connection(
        server,
        dn,
        password,
        receive_timeout=timeout,
        raise_exceptions=False,
        read_only=True,
    )
    try:
        open_tls(connection)
        bound = connection.bind()
    except (LDAPException, DirectoryError, OSError) as error:
        return f"{UNAVAILABLE}:{type(error).__name__}"
    finally:
        close(connection)
    if bound:
        return OK
    if connection.result.get("result") == INVALID_CREDENTIALS:
        return WRONG
    return f"{UNAVAILABLE}:result-{connection.result.get('result')}"


def untested(rule: str) -> bool:
    """A refusal that tested no password (lockout does not count it)."""
    return rule.split(":", maxsplit=1)[0] in UNTESTED
