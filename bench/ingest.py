"""How much web chat one `dealchat serve` takes in, measured from outside (issue 20).

An open-loop load generator (asyncio + httpx): requests start at n / rate seconds whatever
the earlier answers are doing, each with its own message id, from linked web chat clients
(each logged in through the secure link with password and authenticator: setup, not timed).
The mix per client, in turn: `help`, `eurusd?`, `help`, `usdjpy?`, `buy 1m eurusd` (a ticket
to confirm) and `c` (its step-up link): one help, one quote, one order and one confirm in
every six, twice as many quotes and helps as orders.

Against a real `dealchat serve` (started in a temporary data directory, demo data) on SQLite
and on PostgreSQL (127.0.0.1:5432, its own database created and dropped), with 1 and, where
`--workers` says, more worker processes: the offered rate steps up (25, 50, 100, ... msg/s, each
step `--step-seconds` long) until p99 passes 250 ms, an answer fails or the achieved rate falls
under 90% of the offered one. Latency is measured from each request's scheduled start (so a
generator that falls behind counts against us, never for us; its own lag is reported apart).

Per step: offered and achieved rate, p50/p99/max, errors, the generator's lag, and the server's
CPU (utime + stime of its process tree from /proc, the step's delta) per message. Per database:
the highest rate held, bytes stored per message (the database's size before and after the
ladder: `pg_database_size`, the SQLite file after a WAL checkpoint) and, from an in-process
run of the same mix through the same app and its outbox dispatcher, SQL statements per
message of each kind (a SQLAlchemy `before_cursor_execute` listener on the engine, and the rate
limits' counts, which on PostgreSQL run straight on the driver over connections of their own,
`access.counting`: one statement per limit).

Baseline, same server, same run, same method: `GET /healthz` stepped up the same way.

Writes bench/results/ingest.json with the machine's load. `--quick` for a short run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
import pyotp

from _serving import demo, free_port, load_per_cpu, pg_database, serve, summary

HERE = Path(__file__).resolve().parent
LOGS = Path(tempfile.gettempdir())  # dealchat-bench-ingest-<database>-<workers>.log: the server's
MIX = ("help", "eurusd?", "help", "usdjpy?", "buy 1m eurusd", "c")
KINDS = {"help": "help", "eurusd?": "quote", "usdjpy?": "quote", "buy 1m eurusd": "order"}
KINDS["c"] = "confirm"
TARGET_P99_MS = 250.0
TIMEOUT_S = 15.0

FULL = {
    "rates": [25, 50, 100, 150, 200, 300, 400, 600, 800, 1200],
    "health_rates": [100, 200, 400, 800, 1200, 1600],
    "step_seconds": 10.0,
    "clients": 64,
}
QUICK = {
    "rates": [25, 50, 100, 200],
    "health_rates": [100, 400],
    "step_seconds": 5.0,
    "clients": 24,
}


# ---- the server and its database -------------------------------------------------------------


@contextmanager
def database(kind: str, suffix: str) -> Iterator[str | None]:
    """None for SQLite (the data directory's file), else a fresh PostgreSQL database's URL."""
    if kind == "sqlite":
        yield None
        return
    with pg_database(f"dealchat_bench_ingest_{os.getpid()}_{suffix}") as url:
        yield url


def environment(data_dir: Path, port: int, url: str | None) -> dict[str, str]:
    limits = dict.fromkeys(
        ("webchat-source", "webchat-conversation", "webchat-stream", "webchat-feed"), 100_000
    )
    env = {
        **os.environ,
        "DEALCHAT_DATA_DIR": str(data_dir),
        "DEALCHAT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DEALCHAT_LIMITS__PER_MINUTE": json.dumps(limits),
        "DEALCHAT_AUTH__ANONYMOUS_PER_MINUTE": "10000",
        "DEALCHAT_LOG_LEVEL": "WARNING",
    }
    if url is not None:
        env["DEALCHAT_DATABASE_URL"] = url
    return env


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and every descendant, in seconds (/proc/<pid>/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                children.setdefault(int(stat[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        stat = _stat(current)
        if stat is not None:
            total += int(stat[11]) + int(stat[12])  # utime, stime (fields 14 and 15)
        todo.extend(children.get(current, []))
    return total / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields after the command name (field 3 onwards) of /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def stored_bytes(data_dir: Path, url: str | None) -> int:
    if url is None:
        path = data_dir / "dealchat.db"
        with sqlite3.connect(path, timeout=30) as db:
            for _ in range(50):  # a reader (the live watcher) may hold the WAL for a moment
                if db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                    break
                time.sleep(0.1)
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


# ---- linked clients ---------------------------------------------------------------------------


@dataclass
class Client:
    number: int
    username: str
    password: str
    secret: str
    sent: int = 0
    used_step: int = -1

    @property
    def conversation(self) -> str:
        return f"conv-ingest-{self.number:05d}"

    @property
    def sender(self) -> str:
        return f"sender-ingest-{self.number:05d}"

    def next_text(self) -> str:
        text = MIX[self.sent % len(MIX)]
        self.sent += 1
        return text

    def code(self) -> str:
        step = max(int(time.time()) // 30, self.used_step + 1)
        self.used_step = step
        return str(pyotp.TOTP(self.secret).at(step * 30))


def make_clients(env: dict[str, str], count: int) -> list[Client]:
    """`count` external users with the client role (in this process, on the server's database)."""
    import secrets  # noqa: PLC0415

    previous = dict(os.environ)
    os.environ.update(env)
    from dealchat.access import service as access  # noqa: PLC0415
    from dealchat.app import build_platform  # noqa: PLC0415
    from dealchat.db.session import unit_of_work  # noqa: PLC0415
    from dealchat.identity import factors  # noqa: PLC0415
    from dealchat.identity.service import create_user  # noqa: PLC0415
    from dealchat.settings import Settings  # noqa: PLC0415

    built = build_platform(Settings())
    clients = []
    try:
        for n in range(count):
            client = Client(
                n, f"ingest{n:05d}", secrets.token_urlsafe(12), factors.new_totp_secret()
            )
            with unit_of_work(built.sessions) as session:
                create_user(
                    session,
                    sealer=built.desk.sealer,
                    username=client.username,
                    password=client.password,
                    kind="external",
                    totp_secret=client.secret,
                    actor="bench",
                )
                system = access.system_actor()
                access.assign(session, actor=system, role="client", username=client.username)
                access.set_attributes(
                    session,
                    actor=system,
                    username=client.username,
                    attributes={"desk": "FX-24H", "region": "EMEA", "client_book": "PB-BENCH"},
                )
            clients.append(client)
    finally:
        built.engine.dispose()
        os.environ.clear()
        os.environ.update(previous)
    return clients


def body(client: Client, text: str, message_id: str) -> dict[str, str]:
    return {
        "conversation_id": client.conversation,
        "sender_id": client.sender,
        "message_id": message_id,
        "text": text,
    }


async def link(http: httpx.AsyncClient, client: Client) -> None:
    """`login` in the chat, then password and authenticator on the bank's page."""
    response = await http.post("/api/v1/webchat/messages", json=body(client, "login", "link-1"))
    response.raise_for_status()
    reply = response.json()["replies"][-1]
    form = {"username": client.username, "password": client.password, "otp": client.code()}
    answer = await http.post(urlparse(reply["link"]).path, data=form)
    if answer.status_code != 200:
        raise SystemExit(f"{client.username}: the bank's page said {answer.status_code}")


async def link_all(port: int, clients: list[Client]) -> None:
    gate = asyncio.Semaphore(4)  # each link is an argon2 check on the server

    async def one(client: Client) -> None:
        async with gate:
            await link(http, client)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        await asyncio.gather(*(one(c) for c in clients))


# ---- the open-loop ladder ---------------------------------------------------------------------


@dataclass
class Step:
    offered: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    generator_cpu: float = 0.0
    load_after: float = 0.0

    def p99_ms(self) -> float:
        return summary(self.latencies).get("p99_ms", float("inf"))

    def achieved(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def held(self) -> bool:
        errors = sum(self.errors.values())
        return (
            errors == 0 and self.p99_ms() <= TARGET_P99_MS and self.achieved() >= 0.9 * self.offered
        )

    def report(self) -> dict[str, Any]:
        sent = self.ok + sum(self.errors.values())
        return {
            "offered_per_s": self.offered,
            "achieved_per_s": round(self.achieved(), 1),
            "sent": sent,
            "ok": self.ok,
            "errors": dict(self.errors),
            **summary(self.latencies),
            "generator_lag_p99_ms": summary(self.lags).get("p99_ms"),
            "server_cpu_ms_per_request": round(self.cpu * 1000 / sent, 2) if sent else None,
            "server_cpu_share_of_one_core": round(self.cpu / self.wall, 2) if self.wall else None,
            "generator_cpu_share_of_one_core": round(self.generator_cpu / self.wall, 2)
            if self.wall
            else None,
            "load_average_1m_after": self.load_after,
            "held": self.held(),
        }


async def run_step(pid: int, step: Step, request: Any) -> Step:
    """`request(n)` -> a coroutine answering an httpx.Response, started at n / rate seconds."""
    count = int(step.offered * step.seconds)

    async def one(n: int, scheduled: float) -> None:
        step.lags.append(time.perf_counter() - scheduled)
        try:
            response = await request(n)
        except httpx.HTTPError as error:
            step.errors[type(error).__name__] += 1
            return
        if response.status_code == 200:
            step.ok += 1
            step.latencies.append(time.perf_counter() - scheduled)
        else:
            step.errors[f"http {response.status_code}"] += 1

    cpu_before, own_before = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    tasks = []
    for n in range(count):
        scheduled = started + n / step.offered
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)
    step.wall = max(time.perf_counter() - started, step.seconds)
    step.cpu = cpu_seconds(pid) - cpu_before
    step.generator_cpu = time.process_time() - own_before
    step.load_after = round(os.getloadavg()[0], 2)
    return step


async def ladder(
    port: int,
    pid: int,
    *,
    rates: list[int],
    seconds: float,
    request_of: Any,
    label: str,
    browsers: int,
) -> list[Step]:
    """Each of `browsers` has its own HTTP client and connections, as pages do (one shared
    pool of thousands of connections costs the generator more CPU than the server)."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    timeout = httpx.Timeout(TIMEOUT_S)
    base = f"http://127.0.0.1:{port}"
    https = [
        httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) for _ in range(browsers)
    ]
    steps = []
    try:
        for rate in rates:
            step = await run_step(pid, Step(float(rate), seconds), request_of(https))
            steps.append(step)
            shown = step.report()
            print(
                f"  {label} {rate:>5}/s: achieved {shown['achieved_per_s']}/s "
                f"p50 {shown.get('p50_ms')} p99 {shown.get('p99_ms')} ms "
                f"errors {sum(step.errors.values())} cpu {shown['server_cpu_ms_per_request']} ms"
                f" lag p99 {shown['generator_lag_p99_ms']} ms"
                f" generator cpu {shown['generator_cpu_share_of_one_core']}",
                flush=True,
            )
            if not step.held():
                break
            await asyncio.sleep(1)  # the server settles (checkpointer, watcher) between steps
    finally:
        for http in https:
            await http.aclose()
    return steps


def messages(clients: list[Client]) -> Any:
    counter = iter(range(10**9))

    def request_of(https: list[httpx.AsyncClient]) -> Any:
        def request(n: int) -> Any:
            client = clients[n % len(clients)]
            text = client.next_text()
            message = body(client, text, f"m-{next(counter)}")
            http = https[client.number % len(https)]
            return http.post("/api/v1/webchat/messages", json=message)

        return request

    return request_of


def health(https: list[httpx.AsyncClient]) -> Any:
    return lambda n: https[n % len(https)].get("/healthz")


def highest_held(steps: list[Step]) -> float:
    held = [s.offered for s in steps if s.held()]
    return max(held) if held else 0.0


# ---- SQL statements per message, in process ---------------------------------------------------


def statements_per_message(env: dict[str, str], clients: int, rounds: int) -> dict[str, Any]:
    """The same mix through the same app in this process, counting every statement the engine
    runs while each message is handled: per kind of message. No dispatcher runs: web chat
    replies are pulled by the page (channels.outbox.PULLED), it leaves them alone."""
    from fastapi.testclient import TestClient  # noqa: PLC0415
    from sqlalchemy import event  # noqa: PLC0415

    people = make_clients(env, clients)
    previous = dict(os.environ)
    os.environ.update(env)
    from dealchat.access.counting import DatabaseCounter  # noqa: PLC0415
    from dealchat.app import build_platform, create_app  # noqa: PLC0415
    from dealchat.settings import Settings  # noqa: PLC0415

    counted = [0]

    def count(*_args: Any) -> None:
        counted[0] += 1

    # Rate-limit counts on PostgreSQL run on a driver connection of their own, past the
    # engine's listener: each is one statement more.
    upsert_once = DatabaseCounter._upsert_once

    def counting_upsert(
        self: DatabaseCounter, statement: str, values: dict[str, Any]
    ) -> tuple[int | None, ...]:
        count()  # the counts one request makes in turn: one statement
        return upsert_once(self, statement, values)

    DatabaseCounter._upsert_once = counting_upsert  # type: ignore[method-assign]
    built = build_platform(Settings())
    per_kind: dict[str, list[int]] = {}
    try:
        with TestClient(create_app(platform=built)) as http:
            for client in people:
                _link_sync(http, client)
            event.listen(built.engine, "before_cursor_execute", count)
            cpu = time.process_time()
            for n in range(rounds * len(MIX) * len(people)):
                client = people[n % len(people)]
                text = client.next_text()
                before = counted[0]
                response = http.post("/api/v1/webchat/messages", json=body(client, text, f"s-{n}"))
                response.raise_for_status()
                per_kind.setdefault(KINDS[text], []).append(counted[0] - before)
            cpu = time.process_time() - cpu
            event.remove(built.engine, "before_cursor_execute", count)
    finally:
        DatabaseCounter._upsert_once = upsert_once  # type: ignore[method-assign]
        built.engine.dispose()
        os.environ.clear()
        os.environ.update(previous)
    every = [n for values in per_kind.values() for n in values]
    return {
        "per_message_mean": round(sum(every) / len(every), 1),
        "per_kind_mean": {k: round(sum(v) / len(v), 1) for k, v in sorted(per_kind.items())},
        "messages": len(every),
        # the app and its in-process test client together, every thread of this process
        "in_process_cpu_ms_per_message": round(cpu * 1000 / len(every), 2),
    }


def _link_sync(http: Any, client: Client) -> None:
    response = http.post("/api/v1/webchat/messages", json=body(client, "login", "link-1"))
    response.raise_for_status()
    reply = response.json()["replies"][-1]
    form = {"username": client.username, "password": client.password, "otp": client.code()}
    answer = http.post(urlparse(reply["link"]).path, data=form)
    if answer.status_code != 200:
        raise SystemExit(f"{client.username}: the bank's page said {answer.status_code}")


# ---- the run ----------------------------------------------------------------------------------


def served(kind: str, workers: int, plan: dict[str, Any]) -> dict[str, Any]:
    """One database, one server with `workers` processes: health ladder, then the messages'."""
    print(f"== {kind}, {workers} worker(s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp, database(kind, f"serve{workers}") as url:
        data_dir, port = Path(tmp), free_port()
        env = environment(data_dir, port, url)
        demo(env, port)
        clients = make_clients(env, plan["clients"])
        log = LOGS / f"dealchat-bench-ingest-{kind}-{workers}.log"
        server = serve(env, port, log, ["--workers", str(workers)] if workers > 1 else [])
        try:
            asyncio.run(link_all(port, clients))
            climb = partial(
                ladder,
                port,
                server.pid,
                rates=plan["health_rates"],
                seconds=plan["step_seconds"],
                browsers=len(clients),
            )
            healthz = asyncio.run(climb(request_of=health, label="healthz"))
            size_before = stored_bytes(data_dir, url)
            chat = asyncio.run(
                climb(rates=plan["rates"], request_of=messages(clients), label="messages")
            )
            size_after = stored_bytes(data_dir, url)
        finally:
            server.terminate()
            server.wait(timeout=60)
    answered = sum(step.ok for step in chat)
    return {
        "database": kind,
        "workers": workers,
        "linked_clients": len(clients),
        "messages": {
            "highest_rate_held_per_s": highest_held(chat),
            "steps": [step.report() for step in chat],
            "bytes_stored_per_message": round((size_after - size_before) / answered)
            if answered
            else None,
        },
        "baseline_healthz": {
            "highest_rate_held_per_s": highest_held(healthz),
            "steps": [step.report() for step in healthz],
        },
    }


def counted(kind: str, rounds: int) -> dict[str, Any]:
    print(f"== {kind}: SQL statements per message, in process", flush=True)
    with tempfile.TemporaryDirectory() as tmp, database(kind, "count") as url:
        data_dir, port = Path(tmp), free_port()
        env = environment(data_dir, port, url)
        demo(env, port)
        return statements_per_message(env, 3, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short steps, few clients")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", help="server processes, comma-separated")
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ingest.json")
    args = parser.parse_args()
    plan = dict(QUICK if args.quick else FULL)
    if args.step_seconds:
        plan["step_seconds"] = args.step_seconds
    load_before, began = load_per_cpu(), time.monotonic()
    runs, statements = [], {}
    for kind in args.databases.split(","):
        statements[kind] = counted(kind, 1 if args.quick else 5)
        for workers in (int(w) for w in args.workers.split(",")):
            runs.append(served(kind, workers, plan))
    result = {
        "what": "web chat messages from linked clients (help, quotes, orders, confirms) into a "
        "real dealchat serve, open loop stepped up until p99 > 250 ms or errors; baseline "
        "GET /healthz in the same server, same method",
        "mix": list(MIX),
        "plan": plan,
        "target_p99_ms": TARGET_P99_MS,
        "runs": runs,
        "sql_statements_per_message": statements,
        "load_per_cpu_before": load_before,
        "load_per_cpu_after": load_per_cpu(),
        "run_seconds": round(time.monotonic() - began),
        "machine": f"{host.machine()} {host.processor() or host.system()}",
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
