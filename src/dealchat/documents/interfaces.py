"""Ports of the documents domain: the virus scanner (ClamAV's clamd by default).

A scanner sees the bytes of an upload before anything is stored. It answers clean, infected (with
the signature's name) or failed: a scanner that cannot answer is never read as clean, so an upload
that could not be scanned is refused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Verdict(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    FAILED = "failed"


@dataclass(frozen=True)
class ScanResult:
    verdict: Verdict
    signature: str | None = None  # the matching signature when infected
    detail: str | None = None  # why the scan failed (never the content), for the log and audit
    engine: str | None = None  # scanner name and version, e.g. "ClamAV 1.4.6/27467"


class VirusScanner(Protocol):
    """Scans one upload held in memory (uploads are size-limited before they get here)."""

    def scan(self, data: bytes) -> ScanResult: ...

    def ping(self) -> bool:
        """True when the scanner is reachable and has signatures loaded (for health checks)."""
        ...
