"""The virus scanner on ClamAV's clamd, spoken to over its socket protocol (man clamd).

One connection per command, each in clamd's NUL-terminated form (`z` prefix):

    zPING\\0     -> "PONG\\0"
    zVERSION\\0  -> "ClamAV 1.4.6/27467/Mon Nov 23 09:24:52 2026\\0"
    zINSTREAM\\0 then chunks, each a 4-byte big-endian length and its bytes, a zero length to end
                -> "stream: OK\\0" | "stream: <signature> FOUND\\0" | "<message> ERROR\\0"

Anything but a clean or infected answer (a timeout, a refused connection, clamd's size limit, a
reply we do not understand) is `Verdict.FAILED` with a detail that never holds the content.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from dealchat.documents.interfaces import ScanResult, Verdict

MAX_REPLY = 4096  # clamd's replies are one short line
ENGINE_TTL_SECONDS = 30.0  # how long a VERSION answer names the engine (signatures update hourly)
_END = struct.pack(">I", 0)


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: a Unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


def parse_address(text: str) -> ClamdAddress:
    """`unix:///run/clamav/clamd.ctl` or `tcp://clamd.bank.internal:3310`; ValueError otherwise."""
    parts = urlsplit(text.strip())
    if parts.scheme == "unix":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/") or "\0" in path:
            raise ValueError("a Unix socket address is unix:///absolute/path")
        return ClamdAddress(path=path)
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError as error:
            raise ValueError(f"bad port in {text!r}") from error
        if not parts.hostname or port is None or port == 0 or parts.path not in ("", "/"):
            raise ValueError("a TCP address is tcp://host:port")
        return ClamdAddress(host=parts.hostname, port=port)
    raise ValueError("the clamd address must be unix:///path or tcp://host:port")


class ScanError(Exception):
    """A conversation with clamd that did not end in an answer; the message is the detail."""


class ClamdScanner:
    """A `VirusScanner` on clamd. Thread-safe: every call opens its own connection."""

    def __init__(
        self,
        address: ClamdAddress,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        chunk_size: int = 64 * 1024,
    ) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.chunk_size = chunk_size
        self._engine: tuple[float, str] | None = None

    def scan(self, data: bytes) -> ScanResult:
        try:
            engine = self.engine()
            reply = self._instream(data)
        except ScanError as error:
            return ScanResult(Verdict.FAILED, detail=str(error))
        except OSError as error:  # e.g. no socket to be had (too many open files)
            return ScanResult(Verdict.FAILED, detail=f"clamd unreachable: {_why(error)}")
        return verdict_of(reply, engine=engine)

    def ping(self) -> bool:
        try:
            return self._command(b"zPING\0") == "PONG"
        except (ScanError, OSError):
            return False

    def version(self) -> str:
        """clamd's VERSION answer: engine version, signature version and date. Raises ScanError."""
        reply = self._command(b"zVERSION\0")
        if not reply.startswith("ClamAV "):
            raise ScanError(f"unexpected VERSION reply {_shown(reply)}")
        return reply

    def engine(self) -> str:
        """The VERSION answer, asked again when older than ENGINE_TTL_SECONDS."""
        now = time.monotonic()
        if self._engine is None or now - self._engine[0] > ENGINE_TTL_SECONDS:
            self._engine = (now, self.version())
        return self._engine[1]

    def _command(self, command: bytes) -> str:
        with self._connect() as conversation:
            _send(conversation, command)
            return _reply(conversation)

    def _instream(self, data: bytes) -> str:
        with self._connect() as conversation:
            try:
                _send(conversation, b"zINSTREAM\0")
                view = memoryview(data)
                for start in range(0, len(view), self.chunk_size):
                    chunk = view[start : start + self.chunk_size]
                    conversation.sendall(struct.pack(">I", len(chunk)))
                    conversation.sendall(chunk)
                conversation.sendall(_END)
            except OSError as error:
                # clamd stops reading and answers when a limit is hit: its reply says why
                return _reply_after_broken_send(conversation, error)
            return _reply(conversation)

    def _connect(self) -> socket.socket:
        if self.address.path is not None:
            conversation = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: str | tuple[str, int] = self.address.path
        else:
            assert self.address.host is not None
            assert self.address.port is not None
            try:
                infos = socket.getaddrinfo(
                    self.address.host, self.address.port, type=socket.SOCK_STREAM
                )
            except OSError as error:
                raise ScanError(f"cannot resolve {self.address}: {_why(error)}") from error
            family, _, _, _, sockaddr = infos[0]
            conversation = socket.socket(family, socket.SOCK_STREAM)
            target = (str(sockaddr[0]), int(sockaddr[1]))
        conversation.settimeout(self.connect_timeout)
        try:
            conversation.connect(target)
        except OSError as error:
            conversation.close()
            raise ScanError(f"cannot connect to clamd at {self.address}: {_why(error)}") from error
        conversation.settimeout(self.read_timeout)
        return conversation


def verdict_of(reply: str, *, engine: str | None) -> ScanResult:
    """clamd's INSTREAM reply as a ScanResult; anything we do not recognise is FAILED."""
    if reply == "stream: OK":
        return ScanResult(Verdict.CLEAN, engine=engine)
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        signature = reply[len("stream: ") : -len(" FOUND")].strip()
        if signature and signature.isprintable() and len(signature) <= 200:
            return ScanResult(Verdict.INFECTED, signature=signature, engine=engine)
    if reply.endswith(" ERROR"):
        return ScanResult(Verdict.FAILED, detail=f"clamd: {_shown(reply)}", engine=engine)
    return ScanResult(
        Verdict.FAILED, detail=f"unexpected clamd reply {_shown(reply)}", engine=engine
    )


def _send(conversation: socket.socket, data: bytes) -> None:
    try:
        conversation.sendall(data)
    except OSError as error:
        raise ScanError(f"sending to clamd failed: {_why(error)}") from error


def _reply(conversation: socket.socket) -> str:
    """One NUL-terminated reply; ScanError on a timeout, a close before the NUL, or a flood."""
    received = bytearray()
    while b"\0" not in received:
        try:
            part = conversation.recv(MAX_REPLY)
        except TimeoutError as error:
            raise ScanError("clamd did not answer in time") from error
        except OSError as error:
            raise ScanError(f"reading from clamd failed: {_why(error)}") from error
        if not part:
            raise ScanError("clamd closed the connection without a complete reply")
        received += part
        if len(received) > MAX_REPLY:
            raise ScanError("clamd's reply is too long")
    line = bytes(received).split(b"\0", 1)[0]
    return line.decode("utf-8", errors="replace").strip()


def _reply_after_broken_send(conversation: socket.socket, error: OSError) -> str:
    try:
        return _reply(conversation)
    except ScanError:
        raise ScanError(f"clamd stopped reading the upload: {_why(error)}") from error


def _why(error: BaseException) -> str:
    return type(error).__name__ if isinstance(error, TimeoutError) else str(error) or repr(error)


def _shown(reply: str) -> str:
    """A reply as it may be logged: printable and short."""
    cleaned = "".join(c if c.isprintable() else "?" for c in reply)
    return repr(cleaned[:120])
