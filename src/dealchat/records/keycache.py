"""A bounded in-process cache of unwrapped live data keys, for sealing on the hot path.

Every request appends an access decision sealed under its person's data key for the month
(`records.personal`); finding that key and unwrapping it under the KEK (a key file read, or an
HSM/KMS call) on every request would be paid by every request. So `Envelope.seal` keeps the last
`size` keys it sealed under, each for at most `ttl` seconds. This is a deliberate trade:
- only keys whose row is committed are put here (after commit), so a key created in a
  transaction that rolled back is never used again;
- `Envelope.destroy` drops the scope's key and `Envelope.rotate_kek` drops them all;
- a key destroyed by another process is never sealed under: every commit that sealed under a
  key updates its row `WHERE wrapped IS NOT NULL` and fails when nothing matched (the key is
  dropped from here then). Before sealing, a cached key is read back (a plain read) unless a
  commit or a read in this process saw it live in the last `live_for` seconds (1 s): a key
  destroyed elsewhere within that second fails the one commit that used it, never more;
- the TTL bounds how long a key destroyed elsewhere (or re-wrapped by a rotation elsewhere) stays
  in this process's memory. Opening content never uses this cache: a destroyed key reads as
  erased at once, in every process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_SIZE = 1024
DEFAULT_TTL_SECONDS = 60.0
DEFAULT_LIVE_FOR_SECONDS = 1.0


class KeyCache:
    """scope -> (data key id, unwrapped key), least recently used first out, thread-safe."""

    def __init__(
        self,
        *,
        size: int = DEFAULT_SIZE,
        ttl: float = DEFAULT_TTL_SECONDS,
        live_for: float = DEFAULT_LIVE_FOR_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1 or ttl <= 0 or live_for < 0:
            raise ValueError("a key cache needs a size of 1 or more and a positive TTL")
        self._size, self._ttl, self._live_for, self._clock = size, ttl, live_for, clock
        # scope -> (key id, key, expires, seen live at)
        self._keys: OrderedDict[str, tuple[str, bytes, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: str) -> tuple[str, bytes] | None:
        with self._lock:
            found = self._keys.get(scope)
            if found is None:
                return None
            key_id, key, expires, _ = found
            if self._clock() >= expires:
                del self._keys[scope]
                return None
            self._keys.move_to_end(scope)
            return key_id, key

    def put(self, scope: str, key_id: str, key: bytes) -> None:
        with self._lock:
            now = self._clock()
            self._keys[scope] = (key_id, key, now + self._ttl, now)
            self._keys.move_to_end(scope)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def seen_live(self, scope: str, key_id: str) -> None:
        """A commit or a read has just seen `key_id`'s row live."""
        with self._lock:
            found = self._keys.get(scope)
            if found is not None and found[0] == key_id:
                self._keys[scope] = (*found[:3], self._clock())

    def live_lately(self, scope: str) -> bool:
        """Whether the cached key of `scope` was seen live in the last `live_for` seconds."""
        with self._lock:
            found = self._keys.get(scope)
            return found is not None and self._clock() - found[3] < self._live_for

    def drop(self, scope: str) -> None:
        with self._lock:
            self._keys.pop(scope, None)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
