"""Orders through a real FIX counterparty as the client feels them (issue 15).

QuickFIX's own `executor` example (`make executor`) is the counterparty, on loopback, filling
every limit order at its limit. Two paths are measured against it in the same run:

- Baseline: a bare FIX round trip. Our engine (`execution.fix.engine.FixEngine`, QuickFIX
  underneath) sends NewOrderSingle and waits for the executor's fill, with nothing else around:
  closed loop (one at a time: the counterparty's and the engine's own floor) and open loop at the
  rate of the chat run.
- The whole path: a real `dealchat serve` (SQLite, demo data) with `DEALCHAT_EXECUTION__VENUE=fix`.
  Each of N web chat clients logs in, asks to `buy 1m eurusd at 1.0900` and approves the ticket
  with password and authenticator on the bank's page (setup, not timed). Then an open-loop
  generator sends each client's `c` at the chosen rate, whatever the server's answers take,
  and measures from the moment the POST starts to the moment `FILLED ORD-..` arrives on that
  client's open Server-Sent Events stream: the ticket confirmed (sealed, audited, pre-trade
  controls), the order queued in the FIX outbox, sent after commit, the executor's
  ExecutionReport journalled, checked, booked with its settlement and pushed to the client.

Writes bench/results/execution.json: orders per second and p50/p99 of each path, and the ratio
of the chat path's p50 to the bare round trip's. `--orders N --rate R` for other runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pyotp

from _serving import demo, free_port, load_per_cpu, open_loop, serve, summary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the tests' launcher of QuickFIX's executor

from tests.execution.executor import (  # noqa: E402
    EXECUTOR,
    EXECUTOR_ID,
    acceptor_config,
    wait_listening,
)

from dealchat.api.deps import Platform  # noqa: E402
from dealchat.app import build_platform  # noqa: E402
from dealchat.execution.fix.engine import FixEngine, data_dictionary  # noqa: E402
from dealchat.execution.fix.messages import (  # noqa: E402
    NEW_ORDER,
    Instruction,
    fields_of,
    instruction_fields,
)
from dealchat.settings import FixProviderSettings, Settings  # noqa: E402

SERVE_LOG = Path(tempfile.gettempdir()) / "dealchat-bench-execution-serve.log"
BASE_ID, CHAT_ID = "BENCHBASE", "BENCHCHAT"
LIMIT = Decimal("1.0900")
ORDER_TEXT = "buy 1m eurusd at 1.0900"


def _provider(port: int, comp_id: str) -> FixProviderSettings:
    return FixProviderSettings(
        name="EXEC",
        host="127.0.0.1",
        port=port,
        sender_comp_id=comp_id,
        target_comp_id=EXECUTOR_ID,
        reconnect_seconds=1,
    )


def _start_executor(folder: Path) -> tuple[Any, int]:
    import subprocess  # noqa: PLC0415 - only here

    if not os.access(EXECUTOR, os.X_OK):
        raise SystemExit(f"QuickFIX's executor is not built at {EXECUTOR}: run make executor")
    port = free_port()
    config = folder / "executor.cfg"
    config.write_text(
        acceptor_config(port, folder, data_dictionary(), [BASE_ID, CHAT_ID]), encoding="utf-8"
    )
    log = (folder / "executor.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - the built example
        [str(EXECUTOR), str(config)], stdout=log, stderr=log, cwd=folder
    )
    wait_listening(port, process)
    return process, port


class Fills:
    """The engine's listener: when each ClOrdID's fill came in, and logon."""

    def __init__(self) -> None:
        self.on = threading.Event()
        self.filled: dict[str, float] = {}
        self.waiting: dict[str, threading.Event] = {}

    def logged_on(self, provider: str, session: str) -> None:
        self.on.set()

    def logged_out(self, provider: str, session: str) -> None:
        self.on.clear()

    def admin(self, provider: str, session: str, raw: str, *, inbound: bool) -> None:
        return None

    def app_out(self, provider: str, session: str, raw: str) -> None:
        return None

    def app_in(self, provider: str, session: str, raw: str) -> None:
        fields = fields_of(raw)
        if fields.get(39) == "2":  # OrdStatus filled
            clordid = fields[11]
            self.filled[clordid] = time.perf_counter()
            self.waiting.setdefault(clordid, threading.Event()).set()


def _instruction(clordid: str) -> Instruction:
    return Instruction(
        msg_type=NEW_ORDER,
        clordid=clordid,
        orig_clordid=None,
        side="buy",
        pair="EUR/USD",
        isin=None,
        dealt_currency="EUR",
        quantity=Decimal(1_000_000),
        order_type="limit",
        limit_price=LIMIT,
        stop_price=None,
        time_in_force=None,
        expire_date=None,
        value_date=None,
        spot=True,
        account=None,
    )


def _bare_round_trips(port: int, folder: Path, closed: int, rate: float, count: int) -> dict:
    import datetime as dt  # noqa: PLC0415

    fills = Fills()
    engine = FixEngine([_provider(port, BASE_ID)], folder, fills)
    engine.start()
    try:
        if not fills.on.wait(30):
            raise SystemExit("the baseline session did not log on")

        def send(clordid: str) -> float:
            fills.waiting.setdefault(clordid, threading.Event())
            started = time.perf_counter()
            engine.send(
                "EXEC",
                NEW_ORDER,
                instruction_fields(_instruction(clordid), dt.datetime.now(dt.UTC)),
            )
            return started

        one_at_a_time = []
        began = time.perf_counter()
        for n in range(closed):
            clordid = f"BASE-C{n:05d}"
            started = send(clordid)
            if not fills.waiting[clordid].wait(10):
                raise SystemExit(f"{clordid} was never filled")
            one_at_a_time.append(fills.filled[clordid] - started)
        closed_seconds = time.perf_counter() - began
        sent: dict[str, float] = {}
        began = time.perf_counter()
        for n in range(count):
            delay = began + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            clordid = f"BASE-O{n:05d}"
            sent[clordid] = send(clordid)
        for clordid in sent:
            fills.waiting[clordid].wait(10)
        open_latencies = [fills.filled[c] - s for c, s in sent.items() if c in fills.filled]
    finally:
        engine.stop()
    return {
        "closed_loop": {
            "orders": closed,
            "orders_per_second": round(closed / closed_seconds, 1),
            **summary(one_at_a_time),
        },
        "open_loop": {
            "orders": count,
            "rate_per_second": rate,
            "filled": len(open_latencies),
            **summary(open_latencies),
        },
    }


class Client:
    """One web chat client of the bench: a demo client with her own secrets."""

    def __init__(self, number: int, username: str, password: str, secret: str) -> None:
        self.conversation = f"conv-exec-{number:04d}"
        self.sender = f"sender-exec-{number:04d}"
        self.username, self.password = username, password
        self.totp = pyotp.TOTP(secret)
        self.used_step = -1
        self.filled_at: float | None = None
        self.opened = asyncio.Event()

    def code(self) -> str:
        """A code of a time step not used yet (the bank takes each step once, +-1 step)."""
        step = max(int(time.time()) // 30, self.used_step + 1)
        self.used_step = step
        return str(self.totp.at(step * 30))

    async def say(self, http: httpx.AsyncClient, text: str, n: int) -> dict[str, Any]:
        body = {
            "conversation_id": self.conversation,
            "sender_id": self.sender,
            "message_id": f"m-{n}",
            "text": text,
        }
        response = await http.post("/api/v1/webchat/messages", json=body)
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()["replies"]
        return replies[-1]

    async def approve(self, http: httpx.AsyncClient, reply: dict[str, Any]) -> None:
        form = {"username": self.username, "password": self.password, "otp": self.code()}
        response = await http.post(urlparse(reply["link"]).path, data=form)
        if response.status_code != 200:
            raise SystemExit(f"{self.username}: the bank's page said {response.status_code}")

    async def ready(self, http: httpx.AsyncClient) -> None:
        """Logged in, one ticket open and approved with both factors: `c` places it."""
        await self.approve(http, await self.say(http, "login", 1))
        ticket = await self.say(http, ORDER_TEXT, 2)
        if not ticket["text"].startswith("TO CONFIRM"):
            raise SystemExit(f"{self.username}: {ticket['text']}")
        await self.approve(http, await self.say(http, "c", 3))

    async def follow(self, http: httpx.AsyncClient) -> None:
        params = {"conversation_id": self.conversation, "sender_id": self.sender}
        async with http.stream("GET", "/api/v1/webchat/stream", params=params) as stream:
            self.opened.set()
            async for line in stream.aiter_lines():
                if line.startswith("data: ") and '"FILLED ORD-' in line:
                    self.filled_at = self.filled_at or time.perf_counter()


def _clients(env: dict[str, str], count: int) -> list[Client]:
    """`count` demo clients (setup, in this process, on the server's database; no FIX session)."""
    os.environ.update({k: v for k, v in env.items() if not k.startswith("DEALCHAT_EXECUTION")})
    built = build_platform(Settings())
    try:
        return [_client(built, n) for n in range(count)]
    finally:
        built.engine.dispose()


def _client(built: Platform, n: int) -> Client:
    import secrets  # noqa: PLC0415

    from dealchat.access import service as access  # noqa: PLC0415
    from dealchat.db.session import unit_of_work  # noqa: PLC0415
    from dealchat.identity import factors  # noqa: PLC0415
    from dealchat.identity.service import create_user  # noqa: PLC0415

    username, password = f"client{n:04d}", secrets.token_urlsafe(12)
    secret = factors.new_totp_secret()
    with unit_of_work(built.sessions) as session:
        create_user(
            session,
            sealer=built.desk.sealer,
            username=username,
            password=password,
            kind="external",
            totp_secret=secret,
            actor="bench",
        )
        system = access.system_actor()
        access.assign(session, actor=system, role="client", username=username)
        access.set_attributes(
            session,
            actor=system,
            username=username,
            attributes={"desk": "FX-24H", "region": "EMEA", "client_book": "PB-BENCH"},
        )
    return Client(n, username, password, secret)


async def _chat_path(port: int, clients: list[Client], rate: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=len(clients) + 100)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=httpx.Timeout(60)) as http:
        gate = asyncio.Semaphore(4)  # setup: each approval is two argon2 checks on the server

        async def ready(client: Client) -> None:
            async with gate:
                await client.ready(http)

        await asyncio.gather(*(ready(client) for client in clients))
    timeout = httpx.Timeout(60, read=None)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as http:
        followers = [asyncio.create_task(client.follow(http)) for client in clients]
        await asyncio.gather(*(client.opened.wait() for client in clients))
        started: dict[int, float] = {}

        async def confirm(n: int) -> float:
            started[n] = time.perf_counter()
            reply = await clients[n].say(http, "c", 4)
            if not reply["text"].startswith("SENT ORD-"):
                raise SystemExit(f"{clients[n].username}: {reply['text']}")
            return time.perf_counter() - started[n]

        began = time.perf_counter()
        posts = await open_loop(rate, len(clients), confirm)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(c.filled_at is None for c in clients):
            await asyncio.sleep(0.05)
        for task in followers:
            task.cancel()
    done = [c.filled_at for c in clients if c.filled_at is not None]
    latencies = [c.filled_at - started[n] for n, c in enumerate(clients) if c.filled_at]
    return {
        "orders": len(clients),
        "rate_per_second": rate,
        "filled": len(done),
        "orders_per_second": round(len(done) / (max(done) - began), 1) if done else 0.0,
        "c_to_filled_on_stream": summary(latencies),
        "c_post": summary(posts),
    }


def _environment(data_dir: Path, port: int, fix_port: int) -> dict[str, str]:
    limits = dict.fromkeys(("webchat-source", "webchat-stream", "webchat-feed"), 100000)
    limits["webchat-conversation"] = 100_000
    provider = _provider(fix_port, CHAT_ID).model_dump(mode="json", exclude_none=True)
    return {
        **os.environ,
        "DEALCHAT_DATA_DIR": str(data_dir),
        "DEALCHAT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DEALCHAT_LIMITS__PER_MINUTE": json.dumps(limits),
        "DEALCHAT_LOG_LEVEL": "WARNING",
        "DEALCHAT_EXECUTION__VENUE": "fix",
        "DEALCHAT_EXECUTION__PROVIDERS": json.dumps([provider]),
        "DEALCHAT_EXECUTION__DEFAULT_PROVIDER": "EXEC",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200, help="chat clients, one order each")
    parser.add_argument("--rate", type=float, default=5.0, help="confirmations per second")
    parser.add_argument("--closed", type=int, default=500, help="bare round trips, one at a time")
    args = parser.parse_args()
    load_before = load_per_cpu()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        executor, fix_port = _start_executor(folder)
        try:
            bare = _bare_round_trips(fix_port, folder / "base", args.closed, args.rate, args.orders)
            data_dir, port = folder / "platform", free_port()
            env = _environment(data_dir, port, fix_port)
            demo(env, port)
            clients = _clients(env, args.orders)
            server = serve(env, port, SERVE_LOG)
            try:
                chat = asyncio.run(_chat_path(port, clients, args.rate))
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            executor.terminate()
            executor.wait(timeout=10)
    result = _result(bare, chat, args, load_before)
    out = HERE / "results" / "execution.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _result(bare: dict, chat: dict, args: argparse.Namespace, load_before: float) -> dict:
    bare_p50 = bare["open_loop"].get("p50_ms") or 1.0
    chat_p50 = chat["c_to_filled_on_stream"].get("p50_ms", float("inf"))
    return {
        "what": "chat `c` POST start to FILLED on the client's SSE stream through a real dealchat "
        "serve (SQLite) and QuickFIX's executor over loopback, open loop; baseline: a bare "
        "NewOrderSingle to fill round trip on the same engine and executor, same run",
        "bare_fix_round_trip": bare,
        "chat_to_fill": chat,
        "chat_p50_vs_bare_p50": round(chat_p50 / bare_p50, 1),
        "load_per_cpu_before": load_before,
        "load_per_cpu_after": load_per_cpu(),
        "machine": f"{host.machine()} {host.processor() or host.system()}",
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
