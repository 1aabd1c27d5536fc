"""A bounded in-process cache of unwrapped live data keys, for sealing on the hot path.

Every request appends an access decision sealed under its person's data key for the month
(`records.personal`); finding that key and unwrapping it under the KEK (a key file read, or an
HSM/KMS call) on every request would be paid by every request. So `Envelope.seal` keeps the last
`size` keys it sealed under, each for at most `ttl` seconds. This is a deliberate trade:
- only keys whose row is committed are put here (after commit), so a key created in a
  transaction that rolled back is never used again;
- `Envelope.destroy` drops the scope's key and `Envelope.rotate_kek` drops them all;
- a key destroyed by another process is never sealed under: the cached path still updates the
  key's row `WHERE wrapped IS NOT NULL` and falls back to the full lookup when nothing matched;
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


class KeyCache:
    """scope -> (data key id, unwrapped key), least recently used first out, thread-safe."""

    def __init__(
        self,
        *,
        size: int = DEFAULT_SIZE,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1 or ttl <= 0:
            raise ValueError("a key cache needs a size of 1 or more and a positive TTL")
        self._size, self._ttl, self._clock = size, ttl, clock
        self._keys: OrderedDict[str, tuple[str, bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: str) -> tuple[str, bytes] | None:
        with self._lock:
            found = self._keys.get(scope)
            if found is None:
                return None
            key_id, key, expires = found
            if self._clock() >= expires:
                del self._keys[scope]
                return None
            self._keys.move_to_end(scope)
            return key_id, key

    def put(self, scope: str, key_id: str, key: bytes) -> None:
        with self._lock:
            self._keys[scope] = (key_id, key, self._clock() + self._ttl)
            self._keys.move_to_end(scope)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def drop(self, scope: str) -> None:
        with self._lock:
            self._keys.pop(scope, None)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
