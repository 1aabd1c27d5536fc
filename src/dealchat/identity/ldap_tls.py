"""The directory's connection over verified TLS (ldap3), shared by the sync and the bind login:
ldaps:// or StartTLS before any bind, the server's certificate checked against `ca_file`."""

from __future__ import annotations

import contextlib
import ssl
import warnings

with warnings.catch_warnings():  # ldap3 2.9 reads pyasn1's deprecated tagMap names at import
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException

from dealchat.settings import DirectorySettings


class DirectoryError(Exception):
    """The directory could not be read (TLS, bind, search): nothing was changed."""


def server_for(settings: DirectorySettings, *, timeout: float) -> ldap3.Server:
    """The directory's server, its certificate verified against `ca_file` (the system's CAs when
    unset) by ldaps:// or, on an ldap:// URL, by StartTLS (`open_tls`)."""
    if not settings.url:
        raise DirectoryError("set DEALCHAT_DIRECTORY__URL")
    try:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            version=ssl.PROTOCOL_TLS_CLIENT,
            ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
        )
    except LDAPException as error:  # e.g. no such CA file
        raise DirectoryError(f"tls-config:{type(error).__name__}") from error
    return ldap3.Server(
        settings.url,
        use_ssl=settings.url.startswith("ldaps://"),
        tls=tls,
        connect_timeout=timeout,
    )


def open_tls(connection: ldap3.Connection) -> None:
    """Open `connection` and, unless it is ldaps:// already, StartTLS: before any bind."""
    with warnings.catch_warnings():  # ldap3 checks the name with ssl.match_hostname (3.7-)
        warnings.simplefilter("ignore", DeprecationWarning)
        connection.open()
        if not connection.server.ssl and not connection.start_tls():
            raise DirectoryError("starttls-failed")


def close(connection: ldap3.Connection) -> None:
    """Unbind and give the socket back, also when it never connected (ldap3 keeps the socket of
    a refused connect on the connection)."""
    with contextlib.suppress(LDAPException):  # closed already or never opened: the socket only
        connection.unbind()
    if connection.socket is not None:
        connection.socket.close()
