"""The virus scan's cost per MB, against a same-process SHA-256 over the same bytes.

Starts a local clamd (Debian's /usr/sbin/clamd, `make clamav`) on the project's one-signature
database, scans uploads of several sizes through `ClamdScanner` (INSTREAM over a Unix socket),
and writes bench/results/documents.json. The ratio to SHA-256 compares across machines; note that
the bank's clamd holds millions of signatures, so its per-MB cost is higher than measured here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from dealchat.documents.clamav import ClamdScanner
from dealchat.documents.interfaces import Verdict
from dealchat.documents.local_clamd import clamd_binary, local_clamd

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024
SIZES = (64 * 1024, MIB, 10 * MIB)
RUNS = 5


def samples(size: int) -> dict[str, bytes]:
    """Incompressible bytes, and text (a statement-like CSV) of the same size."""
    line = b"2026-11-24,EURUSD,BUY,1000000,1.08425,settled,client 0042\n"
    return {"random": os.urandom(size), "text": (line * (size // len(line) + 1))[:size]}


def best_seconds(work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def measure(scanner: ClamdScanner) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for size in SIZES:
        for kind, data in samples(size).items():
            assert scanner.scan(data).verdict is Verdict.CLEAN
            scan = best_seconds(partial(scanner.scan, data))
            digest = best_seconds(partial(hashlib.sha256, data))
            rows.append(
                {
                    "bytes": size,
                    "content": kind,
                    "scan_ms": round(scan * 1000, 2),
                    "scan_ms_per_mib": round(scan * 1000 * MIB / size, 2),
                    "sha256_ms_per_mib": round(digest * 1000 * MIB / size, 3),
                    "cost_ratio_vs_sha256": round(scan / digest, 1),
                }
            )
    return rows


def main() -> None:
    if clamd_binary() is None:
        sys.exit("documents: clamd is not installed (make clamav)")
    with tempfile.TemporaryDirectory() as directory, local_clamd(Path(directory)) as address:
        scanner = ClamdScanner(address)
        smallest = best_seconds(lambda: scanner.scan(b"x"))
        rows = measure(scanner)
        engine = scanner.version()
    result = {
        "benchmark": "documents",
        "what": "ClamdScanner.scan (INSTREAM, 64 KiB chunks, Unix socket) vs hashlib.sha256",
        "engine": engine,
        "signatures": "the project's dealchat.ndb (1 signature); production clamd holds millions",
        "one_byte_scan_ms": round(smallest * 1000, 2),
        "runs": f"best of {RUNS}",
        "sizes": rows,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = HERE / "results" / "documents.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    big = [row for row in rows if row["bytes"] == max(SIZES)]
    shown = ", ".join(
        f"{row['content']} {row['scan_ms_per_mib']} ms/MiB ({row['cost_ratio_vs_sha256']}x)"
        for row in big
    )
    print(
        f"documents: 1-byte scan {result['one_byte_scan_ms']} ms; 10 MiB: {shown} "
        f"-> {out.relative_to(HERE.parent)}"
    )


if __name__ == "__main__":
    main()
