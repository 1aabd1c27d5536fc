"""`dealchat demo` stopped by a signal stops the clamd it started (it was left running on SIGTERM:
uvicorn re-raised the signal after its shutdown and the process died before its clean-up)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dealchat.documents.local_clamd import clamd_binary
from tests.channels.split import DEALCHAT, _free_port, _wait_healthy
from tests.conftest import IN_CI
from tests.factories.processes import alive, children


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_the_demo_stops_its_clamd_on_every_signal(tmp_path: Path, ending: signal.Signals) -> None:
    if clamd_binary() is None:
        if IN_CI:
            pytest.fail("clamd is not installed (make clamav)")
        pytest.skip("clamd is not installed (make clamav)")
    port = _free_port()
    env = {**os.environ, "DEALCHAT_DATA_DIR": str(tmp_path / "var")}
    env.pop("DEALCHAT_DATABASE_URL", None)
    env.pop("DEALCHAT_DOCUMENTS__CLAMD", None)
    log = tmp_path / "demo.log"
    clamds: list[int] = []
    command = [str(DEALCHAT), "demo", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        demo = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", demo, log)
        clamds += [
            child for child in children(demo.pid)
            if "clamd" in Path(f"/proc/{child}/cmdline").read_text(errors="replace")
        ]  # fmt: skip
        assert len(clamds) == 1, log.read_text()[-2000:]
        demo.send_signal(ending)
        demo.wait(timeout=30)
        deadline = time.monotonic() + 15
        while alive(clamds[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(clamds[0]), f"clamd {clamds[0]} still runs after {ending.name}"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
        for pid in clamds:  # a failed run leaves no clamd behind either
            if alive(pid):
                os.kill(pid, signal.SIGTERM)


def test_the_demo_stops_promptly_while_a_page_follows_its_chat(tmp_path: Path) -> None:
    """A chat page left open holds an event stream that never ends by itself (5 minutes, then
    the browser reconnects): SIGTERM stops the demo within the server's grace period anyway."""
    port = _free_port()
    env = {**os.environ, "DEALCHAT_DATA_DIR": str(tmp_path / "var")}
    env.pop("DEALCHAT_DATABASE_URL", None)
    env.pop("DEALCHAT_DOCUMENTS__CLAMD", None)
    log = tmp_path / "demo.log"
    command = [str(DEALCHAT), "demo", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        demo = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, demo, log)
        ids = {"conversation_id": "c-stops-promptly", "sender_id": "s-stops-promptly"}
        said = httpx.post(
            f"{url}/api/v1/webchat/messages",
            json={**ids, "message_id": "m-stops-promptly", "text": "hello"},
            headers={"Origin": url},
            timeout=10,
        )
        assert said.status_code == 200, said.text
        with httpx.stream("GET", f"{url}/api/v1/webchat/stream", params=ids, timeout=30) as feed:
            assert feed.status_code == 200
            started = time.monotonic()
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=30)
            assert time.monotonic() - started < 20, log.read_text()[-2000:]
        # the stream ended by itself as the server stopped: nothing was cancelled, no traceback
        written = log.read_text()
        assert "timeout graceful shutdown exceeded" not in written, written[-2000:]
        assert "Traceback" not in written, written[-2000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
