"""The clamd adapter against a real clamd: clean, infected, limits, and every way to fail."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from dealchat.app import build_platform
from dealchat.documents.clamav import ClamdAddress, ClamdScanner, parse_address, verdict_of
from dealchat.documents.eicar import eicar
from dealchat.documents.interfaces import Verdict
from dealchat.documents.scanners import NoScanner, scanner_from
from dealchat.settings import DocumentsSettings, Settings
from tests.documents.clamd import EICAR_SIGNATURE, Clamd


def test_the_test_file_is_eicar() -> None:
    assert hashlib.md5(eicar()).hexdigest() == "44d88612fea8a8f36de82e1278abb02f"


def test_clean_bytes_are_clean_and_name_the_engine(clamd: Clamd) -> None:
    result = clamd.scanner.scan(b"%PDF-1.7\nquarterly statement, nothing to see\n")
    assert result.verdict is Verdict.CLEAN
    assert result.signature is None
    assert result.detail is None
    assert result.engine is not None
    assert result.engine.startswith("ClamAV 1.")


def test_empty_upload_is_scanned_clean(clamd: Clamd) -> None:
    assert clamd.scanner.scan(b"").verdict is Verdict.CLEAN


def test_eicar_is_infected_with_the_signature_name(clamd: Clamd) -> None:
    result = clamd.scanner.scan(eicar())
    assert result.verdict is Verdict.INFECTED
    assert result.signature == EICAR_SIGNATURE
    assert result.engine is not None
    assert result.engine.startswith("ClamAV ")


@pytest.mark.parametrize("chunk_size", [1024, 4096])
def test_eicar_across_chunk_boundaries_inside_a_larger_upload(
    clamd: Clamd, chunk_size: int
) -> None:
    scanner = ClamdScanner(clamd.address, chunk_size=chunk_size)
    for offset in (chunk_size - 30, 3 * chunk_size - 1, 5 * chunk_size - 67):
        data = b"a" * offset + eicar() + b"z" * (7 * chunk_size)
        result = scanner.scan(data)
        assert result.verdict is Verdict.INFECTED, offset
        assert result.signature == EICAR_SIGNATURE


def test_an_upload_over_clamds_stream_limit_fails_never_clean(clamd: Clamd) -> None:
    result = clamd.scanner.scan(b"\0" * (clamd.stream_max_bytes + 1))
    assert result.verdict is Verdict.FAILED
    assert result.detail is not None
    assert "limit" in result.detail


def test_ping_and_version_of_a_running_clamd(clamd: Clamd) -> None:
    assert clamd.scanner.ping() is True
    assert clamd.scanner.version().startswith("ClamAV ")


def test_no_clamd_at_the_socket_fails_and_does_not_answer_ping(tmp_path: Path) -> None:
    scanner = ClamdScanner(ClamdAddress(path=str(tmp_path / "missing.sock")))
    result = scanner.scan(eicar())
    assert result.verdict is Verdict.FAILED
    assert result.detail is not None
    assert "cannot connect" in result.detail
    assert "EICAR" not in result.detail
    assert scanner.ping() is False


def test_nothing_listening_on_tcp_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        scanner = ClamdScanner(ClamdAddress(host="127.0.0.1", port=port), connect_timeout=2)
        assert scanner.scan(b"data").verdict is Verdict.FAILED
        assert scanner.ping() is False


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _relay(listener: socket.socket, unix_path: str) -> None:
    """Forwards each TCP connection to clamd's Unix socket, both ways, until either side ends."""
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(unix_path)
        ahead = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        ahead.start()
        _pump(upstream, client)
        ahead.join(timeout=10)
        client.close()
        upstream.close()


def test_clamd_over_tcp(clamd: Clamd) -> None:
    assert clamd.address.path is not None
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        threading.Thread(target=_relay, args=(listener, clamd.address.path), daemon=True).start()
        address = parse_address(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        scanner = scanner_from(DocumentsSettings(clamd=str(address)))
        assert scanner.ping() is True
        assert scanner.scan(b"x" * 100_000 + eicar()).signature == EICAR_SIGNATURE
        assert scanner.scan(b"a clean memo").verdict is Verdict.CLEAN


class FakeClamd:
    """A socket server that answers every connection with the same bytes: not clamd."""

    def __init__(self, path: Path, answer: bytes | None) -> None:
        self.answer = answer
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.server.settimeout(0.05)
        self.stopped = threading.Event()
        self.address = ClamdAddress(path=str(path))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            connection.settimeout(5)
            with connection:
                connection.recv(65536)
                if self.answer is not None:
                    connection.sendall(self.answer)
                    connection.shutdown(socket.SHUT_WR)
                else:
                    connection.recv(65536)  # says nothing until the client gives up

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def fake_clamd(tmp_path: Path) -> Iterator[type[FakeClamd]]:
    started: list[FakeClamd] = []

    def start(answer: bytes | None) -> FakeClamd:
        fake = FakeClamd(tmp_path / f"fake{len(started)}.sock", answer)
        started.append(fake)
        return fake

    yield start  # type: ignore[misc]
    for fake in started:
        fake.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"ClamAV 1.4.6\0",  # a VERSION-looking answer to everything, so INSTREAM gets it too
        b"stream: \0",
        b"ClamAV yes\0".replace(b"yes", b"x" * 5000),  # longer than any reply of clamd
        b"ClamAV 1.4.6",  # closed before the NUL
    ],
)
def test_a_reply_that_is_not_clamds_fails(fake_clamd: type[FakeClamd], answer: bytes) -> None:
    fake = fake_clamd(answer)
    result = ClamdScanner(fake.address).scan(b"hello")
    assert result.verdict is Verdict.FAILED
    assert result.detail


def test_garbage_reply_fails_and_ping_is_false(fake_clamd: type[FakeClamd]) -> None:
    fake = fake_clamd(b"\x00\xffHTTP/1.1 400 Bad Request\r\n\0")
    scanner = ClamdScanner(fake.address)
    assert scanner.scan(b"hello").verdict is Verdict.FAILED
    assert scanner.ping() is False


def test_a_silent_server_times_out_as_failed(fake_clamd: type[FakeClamd]) -> None:
    fake = fake_clamd(None)
    result = ClamdScanner(fake.address, read_timeout=0.3).scan(b"hello")
    assert result.verdict is Verdict.FAILED
    assert result.detail is not None
    assert "in time" in result.detail


@pytest.mark.parametrize(
    ("reply", "verdict", "signature"),
    [
        ("stream: OK", Verdict.CLEAN, None),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", Verdict.INFECTED, "Win.Test.EICAR_HDB-1"),
        ("INSTREAM size limit exceeded. ERROR", Verdict.FAILED, None),
        ("stream: OK FOUND", Verdict.INFECTED, "OK"),
        ("stream:  FOUND", Verdict.FAILED, None),
        ("stream: ok", Verdict.FAILED, None),
        ("PONG", Verdict.FAILED, None),
        ("", Verdict.FAILED, None),
    ],
)
def test_verdict_of_clamds_replies(reply: str, verdict: Verdict, signature: str | None) -> None:
    result = verdict_of(reply, engine="ClamAV 1.4.6")
    assert (result.verdict, result.signature) == (verdict, signature)
    assert (result.detail is None) == (verdict is not Verdict.FAILED)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:///run/clamav/clamd.ctl", ClamdAddress(path="/run/clamav/clamd.ctl")),
        ("tcp://clamd.bank.internal:3310", ClamdAddress(host="clamd.bank.internal", port=3310)),
        ("tcp://[::1]:3310", ClamdAddress(host="::1", port=3310)),
    ],
)
def test_clamd_addresses(text: str, expected: ClamdAddress) -> None:
    assert parse_address(text) == expected
    assert parse_address(str(expected)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "/run/clamav/clamd.ctl",
        "unix://run/clamd.ctl",
        "unix:relative.sock",
        "tcp://clamd",
        "tcp://clamd:0",
        "tcp://clamd:70000",
        "tcp://:3310",
        "tcp://clamd:3310/path",
        "http://clamd:3310",
    ],
)
def test_bad_clamd_settings_are_rejected(text: str) -> None:
    with pytest.raises(ValidationError, match="clamd"):
        DocumentsSettings(clamd=text)


def test_bad_timeouts_and_chunks_are_rejected() -> None:
    for field, value in [
        ("clamd_connect_timeout_seconds", 0),
        ("clamd_read_timeout_seconds", -1),
        ("clamd_chunk_bytes", 10),
    ]:
        with pytest.raises(ValidationError):
            DocumentsSettings.model_validate({field: value})


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALCHAT_DOCUMENTS__CLAMD", "tcp://clamd.bank.internal:3310")
    monkeypatch.setenv("DEALCHAT_DOCUMENTS__CLAMD_READ_TIMEOUT_SECONDS", "30")
    scanner = scanner_from(Settings().documents)
    assert isinstance(scanner, ClamdScanner)
    assert scanner.address == ClamdAddress(host="clamd.bank.internal", port=3310)
    assert scanner.read_timeout == 30


def test_without_a_scanner_every_upload_fails() -> None:
    scanner = scanner_from(DocumentsSettings())
    assert isinstance(scanner, NoScanner)
    result = scanner.scan(b"harmless")
    assert result.verdict is Verdict.FAILED
    assert result.detail is not None
    assert "DEALCHAT_DOCUMENTS__CLAMD" in result.detail
    assert scanner.ping() is False


def test_the_platform_scans_with_clamd_from_its_settings(clamd: Clamd, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", documents={"clamd": clamd.url})
    built = build_platform(settings)
    try:
        assert built.scanner.scan(eicar()).signature == EICAR_SIGNATURE
        assert built.scanner.ping() is True
    finally:
        built.engine.dispose()
