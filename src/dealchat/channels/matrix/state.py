"""What the Matrix bot keeps between runs, in files of its own (0600) under the data directory.

The sync token, saved after each batch has been answered, so that a restart neither replays history
as new nor loses what came in while it was down; and the session (device id and access token) of a
password login, so the bot stays one device and the homeserver's transaction ids keep deduplicating.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredSession:
    user_id: str
    device_id: str
    access_token: str


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def sync_token(self) -> str | None:
        path = self.directory / "sync-token"
        if not path.exists():
            return None
        return path.read_text(encoding="utf-8").strip() or None

    def save_sync_token(self, token: str) -> None:
        self._write("sync-token", token)

    def session(self, user_id: str) -> StoredSession | None:
        path = self.directory / "session.json"
        if not path.exists():
            return None
        stored = StoredSession(**json.loads(path.read_text(encoding="utf-8")))
        return stored if stored.user_id == user_id else None

    def save_session(self, session: StoredSession) -> None:
        self._write("session.json", json.dumps(asdict(session)))

    def forget_session(self) -> None:
        (self.directory / "session.json").unlink(missing_ok=True)

    def _write(self, name: str, text: str) -> None:
        """Atomically: a crash leaves the old file or the new one, never half of either."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.directory / name
        partial = self.directory / f".{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(target)
