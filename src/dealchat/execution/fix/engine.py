"""The FIX engine: one QuickFIX initiator per liquidity provider (the `quickfix-ssl` binding).

Logon, heartbeats, test requests, resend requests, sequence resets and the message store are
QuickFIX's: each provider's store (a FileStore under `<data_dir>/fix/<name>/store`) keeps the
sequence numbers and every message sent, so a restart resumes where it stopped and a resend
request is answered from it. QuickFIX's own file log of every message in and out is beside it.
What each application message means is the platform's: every callback goes to a `Listener`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import quickfix as fix

from dealchat.execution.fix.messages import MSG_SEQ_NUM, SOH, fields_of
from dealchat.settings import FixProviderSettings

log = logging.getLogger("dealchat.fix")
BEGIN_STRING = "FIX.4.4"


class Listener(Protocol):
    """What the platform does with each session event and message (execution.fix.runtime)."""

    def logged_on(self, provider: str, session: str) -> None: ...
    def logged_out(self, provider: str, session: str) -> None: ...
    def admin(self, provider: str, session: str, raw: str, *, inbound: bool) -> None: ...
    def app_in(self, provider: str, session: str, raw: str) -> None: ...
    def app_out(self, provider: str, session: str, raw: str) -> None: ...


class NotLoggedOnError(RuntimeError):
    """The provider's session is not logged on: nothing was sent."""


def session_config(provider: FixProviderSettings, folder: Path, dictionary: Path) -> str:
    """QuickFIX session settings for one provider (an initiator; UTC session window)."""
    lines = [
        "[DEFAULT]",
        "ConnectionType=initiator",
        f"FileStorePath={folder / 'store'}",
        f"FileLogPath={folder / 'log'}",
        f"StartTime={provider.start_time}",
        f"EndTime={provider.end_time}",
        "UseDataDictionary=Y",
        f"DataDictionary={dictionary}",
        "ValidateUserDefinedFields=N",
        # A value outside the specification's enumerations reaches the platform, whose inbound
        # controls judge it, instead of a session Reject that leaves the trade unbooked here.
        "ValidateFieldsOutOfRange=N",
        "PersistMessages=Y",
        "ResetOnLogon=N",
        "ResetOnLogout=N",
        "ResetOnDisconnect=N",
        "RefreshOnLogon=Y",
        f"ReconnectInterval={provider.reconnect_seconds}",
        "[SESSION]",
        f"BeginString={BEGIN_STRING}",
        f"SenderCompID={provider.sender_comp_id}",
        f"TargetCompID={provider.target_comp_id}",
        f"SocketConnectHost={provider.host}",
        f"SocketConnectPort={provider.port}",
        f"HeartBtInt={provider.heartbeat_seconds}",
    ]
    if provider.tls:
        lines += ["SSLProtocol=+TLSv1_2 +TLSv1_3", "CertificateVerifyLevel=1"]
        if provider.ca_file is not None:
            lines.append(f"CertificationAuthoritiesFile={provider.ca_file}")
        if provider.certificate_file is not None and provider.key_file is not None:
            lines.append(f"ClientCertificateFile={provider.certificate_file}")
            lines.append(f"ClientCertificateKeyFile={provider.key_file}")
    return "\n".join(lines) + "\n"


def data_dictionary() -> Path:
    """QuickFIX's FIX 4.4 specification, installed by the binding's wheel (share/quickfix)."""
    for root in (Path(fix.__file__).resolve().parents[3], Path(fix.__file__).parent):
        candidate = root / "share" / "quickfix" / "FIX44.xml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("FIX44.xml of the quickfix binding not found")


class _Application(fix.Application):  # type: ignore[misc]
    def __init__(self, provider: str, listener: Listener) -> None:
        super().__init__()
        self._provider, self._listener = provider, listener

    def _guard(self, what: str, call: object, *args: object) -> None:
        try:
            call(*args)  # type: ignore[operator]
        except Exception:  # an engine thread must never die of the platform's error
            log.exception("FIX %s for %s failed", what, self._provider)

    def onCreate(self, session_id: fix.SessionID) -> None:  # noqa: N802 - QuickFIX's names
        return None

    def onLogon(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self._guard("logon", self._listener.logged_on, self._provider, session_id.toString())

    def onLogout(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self._guard("logout", self._listener.logged_out, self._provider, session_id.toString())

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        self._admin(message, session_id, inbound=False)

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        self._admin(message, session_id, inbound=True)

    def _admin(self, message: fix.Message, session_id: fix.SessionID, *, inbound: bool) -> None:
        raw = message.toString()
        self._guard("admin", self._admin_call, session_id.toString(), raw, inbound)

    def _admin_call(self, session: str, raw: str, inbound: bool) -> None:
        self._listener.admin(self._provider, session, raw, inbound=inbound)

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        raw = message.toString()
        self._guard("send", self._listener.app_out, self._provider, session_id.toString(), raw)

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        raw = message.toString()
        self._guard("receive", self._listener.app_in, self._provider, session_id.toString(), raw)


@dataclass
class _Link:
    provider: FixProviderSettings
    folder: Path
    session_id: fix.SessionID
    initiator: fix.Initiator | None
    application: _Application


class FixEngine:
    """The initiators of all configured providers; `send` puts one message on a session."""

    def __init__(
        self, providers: list[FixProviderSettings], data_dir: Path, listener: Listener
    ) -> None:
        self._links: dict[str, _Link] = {}
        self._lock = threading.Lock()
        dictionary = data_dictionary()
        for provider in providers:
            folder = data_dir / "fix" / provider.name
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            config = folder / "session.cfg"
            config.write_text(session_config(provider, folder, dictionary), encoding="utf-8")
            settings = fix.SessionSettings(str(config))
            application = _Application(provider.name, listener)
            store, logs = fix.FileStoreFactory(settings), fix.FileLogFactory(settings)
            kind = fix.SSLSocketInitiator if provider.tls else fix.SocketInitiator
            initiator = kind(application, store, settings, logs)
            session_id = fix.SessionID(
                BEGIN_STRING, provider.sender_comp_id, provider.target_comp_id
            )
            self._links[provider.name] = _Link(provider, folder, session_id, initiator, application)

    @property
    def providers(self) -> list[str]:
        return list(self._links)

    def start(self) -> None:
        for link in self._links.values():
            if link.initiator is None:
                raise RuntimeError("a stopped FIX engine does not start again: build a new one")
            link.initiator.start()

    def stop(self, *, force: bool = False) -> None:
        """Log out (wait for the counterparty's Logout unless `force`) and stop. The initiators
        are destroyed too: QuickFIX keeps one session per SessionID in a process-wide registry,
        which only their destructor leaves, and a new engine for the same session (a restart)
        would otherwise find the old one there."""
        for link in self._links.values():
            if link.initiator is not None:
                link.initiator.stop(force)
                link.initiator = None

    def session_name(self, provider: str) -> str:
        return str(self._links[provider].session_id.toString())

    def _session(self, provider: str) -> fix.Session | None:
        return fix.Session.lookupSession(self._links[provider].session_id)

    def logged_on(self, provider: str) -> bool:
        session = self._session(provider)
        return session is not None and bool(session.isLoggedOn())

    def sequence_numbers(self, provider: str) -> tuple[int, int] | None:
        """(next we send, next we expect) from the store; None before the session exists."""
        session = self._session(provider)
        if session is None:
            return None
        return int(session.getExpectedSenderNum()), int(session.getExpectedTargetNum())

    def send(self, provider: str, msg_type: str, fields: list[tuple[int, str]]) -> int:
        """Send one application message; its MsgSeqNum. NotLoggedOnError when not logged on:
        the platform keeps it queued rather than let the engine store it for a later resend."""
        with self._lock:
            if not self.logged_on(provider):
                raise NotLoggedOnError(f"the FIX session with {provider} is not logged on")
            message = fix.Message()
            header = message.getHeader()
            header.setField(fix.BeginString(BEGIN_STRING))
            header.setField(fix.MsgType(msg_type))
            for tag, value in fields:
                message.setField(tag, value)
            if not fix.Session.sendToTarget(message, self._links[provider].session_id):
                raise NotLoggedOnError(f"the FIX session with {provider} did not take it")
            return int(fields_of(message.toString()).get(MSG_SEQ_NUM, "0"))

    def stored_clordids(self, provider: str) -> set[str]:
        """The ClOrdIDs of every order message in the provider's message store: what the engine
        has taken to send (and will resend when asked), whatever became of the platform."""
        link = self._links[provider]
        found: set[str] = set()
        for body in (link.folder / "store").glob("*.body"):
            text = body.read_bytes().decode("latin-1")
            for message in text.split("8=" + BEGIN_STRING + SOH)[1:]:
                fields = fields_of(SOH + message)
                if fields.get(35) in ("D", "F", "G") and 11 in fields:
                    found.add(fields[11])
        return found
