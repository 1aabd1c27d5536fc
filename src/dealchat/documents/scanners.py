"""The virus scanner the platform uses, chosen by settings: clamd, or none (uploads refused)."""

from __future__ import annotations

from dealchat.documents.clamav import ClamdScanner, parse_address
from dealchat.documents.interfaces import ScanResult, Verdict, VirusScanner
from dealchat.settings import DocumentsSettings

NOT_CONFIGURED = "no virus scanner is configured (set DEALCHAT_DOCUMENTS__CLAMD)"


class NoScanner:
    """No scanner configured: every scan fails, so no upload is ever stored unscanned."""

    def scan(self, data: bytes) -> ScanResult:
        return ScanResult(Verdict.FAILED, detail=NOT_CONFIGURED)

    def ping(self) -> bool:
        return False


def scanner_from(settings: DocumentsSettings) -> VirusScanner:
    if settings.clamd is None:
        return NoScanner()
    return ClamdScanner(
        parse_address(settings.clamd),
        connect_timeout=settings.clamd_connect_timeout_seconds,
        read_timeout=settings.clamd_read_timeout_seconds,
        chunk_size=settings.clamd_chunk_bytes,
    )
