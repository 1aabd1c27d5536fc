"""A clamd of our own, in the foreground, for the tests and `dealchat demo`.

It runs Debian's /usr/sbin/clamd (`make clamav`) on a generated configuration in a directory we
own: its Unix socket, its log and a copy of the project's signature database (signatures/), never
the system clamd nor freshclam. Production points DEALCHAT_DOCUMENTS__CLAMD at the bank's clamd.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dealchat.documents.clamav import ClamdAddress, ClamdScanner

SIGNATURES = Path(__file__).parent / "signatures" / "dealchat.ndb"
CLAMD_PATHS = ("/usr/sbin/clamd", "/usr/local/sbin/clamd")
START_TIMEOUT_SECONDS = 60.0
# clamd's StreamMaxLength for a local clamd: at least the largest upload the platform accepts
STREAM_MAX_BYTES = 32 * 1024 * 1024
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes


class ClamdStartError(RuntimeError):
    """clamd exited or did not answer PING in time; the message ends with its log."""


def clamd_binary() -> Path | None:
    """The clamd executable, or None when ClamAV's daemon is not installed."""
    found = shutil.which("clamd")
    candidates = ([found] if found else []) + list(CLAMD_PATHS)
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


def write_config(directory: Path, *, stream_max_bytes: int) -> tuple[Path, ClamdAddress]:
    """clamd.conf, the database directory and the socket path under `directory`."""
    directory = directory.resolve()
    database = directory / "db"
    database.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(SIGNATURES, database / SIGNATURES.name)
    socket_dir = directory
    if len(str(directory / "clamd.sock")) > _SOCKET_PATH_MAX:
        socket_dir = Path(tempfile.mkdtemp(prefix="dealchat-clamd-"))
    address = ClamdAddress(path=str(socket_dir / "clamd.sock"))
    lines = {
        "Foreground": "yes",
        "LocalSocket": address.path,
        "LocalSocketMode": "600",
        "DatabaseDirectory": str(database),
        "TemporaryDirectory": str(directory),
        "LogFile": str(directory / "clamd.log"),
        "LogSyslog": "no",
        "LogTime": "yes",
        "StreamMaxLength": str(stream_max_bytes),
        "SelfCheck": "0",
    }
    config = directory / "clamd.conf"
    config.write_text("".join(f"{key} {value}\n" for key, value in lines.items()), "utf-8")
    return config, address


@contextmanager
def local_clamd(
    directory: Path, *, stream_max_bytes: int = STREAM_MAX_BYTES, binary: Path | None = None
) -> Iterator[ClamdAddress]:
    """Starts clamd on our signatures, waits until PING answers, stops it on exit."""
    executable = binary or clamd_binary()
    if executable is None:
        raise ClamdStartError("clamd is not installed (make clamav installs clamav-daemon)")
    config, address = write_config(directory, stream_max_bytes=stream_max_bytes)
    assert address.path is not None
    Path(address.path).unlink(missing_ok=True)
    process = subprocess.Popen(  # noqa: S603 - our own executable and config, no shell
        [str(executable), "--config-file", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_answers(process, address, directory / "clamd.log")
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        Path(address.path).unlink(missing_ok=True)


def _wait_until_answers(process: subprocess.Popen[bytes], address: ClamdAddress, log: Path) -> None:
    scanner = ClamdScanner(address, connect_timeout=1.0, read_timeout=5.0)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClamdStartError(f"clamd exited with {process.returncode}: {_tail(log)}")
        if scanner.ping():
            return
        time.sleep(0.1)
    raise ClamdStartError(f"clamd did not answer PING in {START_TIMEOUT_SECONDS}s: {_tail(log)}")


def _tail(log: Path) -> str:
    if not log.exists():
        return "(no log)"
    return log.read_text("utf-8", errors="replace")[-2000:]
