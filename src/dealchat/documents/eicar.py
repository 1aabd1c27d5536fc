"""The EICAR anti-virus test file: 68 harmless bytes every scanner reports, for self-tests.

Kept as two base64 halves so the string never sits verbatim in the source, where scanners on
developer machines would flag the file.
"""

from __future__ import annotations

import base64

_PARTS = (
    "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJE",
    "LUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=",
)


def eicar() -> bytes:
    return b"".join(base64.b64decode(part) for part in _PARTS)
