"""Loading the recorded payloads under tests/channels/<name>/fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent


def load(channel: str, name: str) -> Any:
    return json.loads((ROOT / channel / "fixtures" / f"{name}.json").read_text())
