"""A real FIX counterparty for the tests (pytest plugin, registered in tests/conftest.py).

`executor` starts QuickFIX's own `executor` example (built from Debian's libquickfix-doc source
against libquickfix-dev by `make executor`) once per test session, on a free port, with a file
store in a tmp dir. It accepts FIX 4.4 sessions from `DEALCHAT01`..`DEALCHAT64` (each test takes a
fresh one with `executor.comp_id()`, so no test sees another's sequence numbers) and fills every
limit NewOrderSingle in full at its limit price. Under CI=true a missing executor or FIX binding
fails the run; elsewhere the tests that need them are skipped with the reason.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dealchat.settings import ExecutionSettings, FixProviderSettings

IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[2]
EXECUTOR = Path(os.environ.get("DEALCHAT_TEST_EXECUTOR", ROOT / "build/quickfix-executor/executor"))
SESSIONS = 64
EXECUTOR_ID = "EXECUTOR"


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the FIX acceptor exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {seconds}s")


def acceptor_config(port: int, folder: Path, dictionary: Path, comp_ids: list[str]) -> str:
    lines = [
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"SocketAcceptPort={port}",
        "SocketReuseAddress=Y",
        f"FileStorePath={folder / 'store'}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "UseDataDictionary=Y",
        f"DataDictionary={dictionary}",
        "BeginString=FIX.4.4",
        f"SenderCompID={EXECUTOR_ID}",
    ]
    for comp_id in comp_ids:
        lines += ["[SESSION]", f"TargetCompID={comp_id}", "HeartBtInt=30"]
    return "\n".join(lines) + "\n"


@dataclass
class Executor:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def comp_id(self) -> str:
        number = next(self._ids)
        if number > SESSIONS:
            raise RuntimeError("the executor's sessions are used up: raise SESSIONS")
        return f"DEALCHAT{number:02d}"

    def provider(
        self, comp_id: str, *, port: int | None = None, name: str = "EXEC"
    ) -> FixProviderSettings:
        return FixProviderSettings(
            name=name,
            host="127.0.0.1",
            port=port or self.port,
            sender_comp_id=comp_id,
            target_comp_id=EXECUTOR_ID,
            heartbeat_seconds=30,
            reconnect_seconds=1,
        )

    def execution(self, comp_id: str, *, port: int | None = None) -> ExecutionSettings:
        provider = self.provider(comp_id, port=port)
        return ExecutionSettings(venue="fix", providers=[provider], default_provider="EXEC")


@pytest.fixture(scope="session")
def fix_binding() -> None:
    try:
        import quickfix  # noqa: F401, PLC0415 - only to learn whether the binding is installed
    except ImportError as error:
        _missing(f"the QuickFIX binding is not installed (pip install quickfix-ssl): {error}")


@pytest.fixture(scope="session")
def executor(fix_binding: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executor]:
    if not os.access(EXECUTOR, os.X_OK):
        _missing(f"QuickFIX's executor is not built at {EXECUTOR} (make executor)")
    from dealchat.execution.fix.engine import data_dictionary  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("executor")
    port = free_port()
    ids = [f"DEALCHAT{n:02d}" for n in range(1, SESSIONS + 1)]
    config = folder / "executor.cfg"
    config.write_text(acceptor_config(port, folder, data_dictionary(), ids), encoding="utf-8")
    log = (folder / "executor.log").open("wb")
    process = subprocess.Popen([str(EXECUTOR), str(config)], stdout=log, stderr=log, cwd=folder)
    try:
        wait_listening(port, process)
        yield Executor(port, folder, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
