"""What the whole-path benches share: a real `dealchat serve` on demo data, an open-loop
generator and latency summaries. Not a bench itself (`make bench` runs bench/[a-z]*.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def dealchat() -> str:
    return str(Path(sys.executable).with_name("dealchat"))


def start(env: Mapping[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """`dealchat demo --no-serve` (demo users and access), then `dealchat serve` until /healthz
    answers. `env` holds the DEALCHAT_* settings of both."""
    demo(env, port)
    return serve(env, port, log)


def demo(env: Mapping[str, str], port: int) -> None:
    """The demo users, roles and rules in the database `env` names (`dealchat demo --no-serve`)."""
    command = [dealchat(), "demo", "--no-serve", "--port", str(port)]
    subprocess.run(command, env=dict(env), check=True, capture_output=True)  # noqa: S603


def serve(
    env: Mapping[str, str], port: int, log: Path, options: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """`dealchat serve --port <port> <options>` until /healthz answers; its output in `log`."""
    out = log.open("wb")
    server = subprocess.Popen(  # noqa: S603 - our own command
        [dealchat(), "serve", "--port", str(port), *options], env=dict(env), stdout=out, stderr=out
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"dealchat serve did not start (see {log})")


async def open_loop(rate: float, count: int, action: Callable[[int], Awaitable[T]]) -> list[T]:
    """Start `action(n)` at n / rate seconds whatever the earlier ones are doing."""
    started = time.perf_counter()
    tasks = []
    for n in range(count):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(action(n)))
    return list(await asyncio.gather(*tasks))


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds of durations in seconds."""
    ordered = sorted(values)
    if not ordered:
        return {}
    cut = (
        statistics.quantiles(ordered, n=100, method="inclusive")
        if len(ordered) > 1
        else ordered * 99
    )
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(cut[98] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def load_per_cpu() -> float:
    return round(os.getloadavg()[0] / (os.cpu_count() or 1), 2)


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def pg_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database at 127.0.0.1:5432 (its URL), dropped after."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
