"""Cumulative limit usage in memory, for backtests and the benchmark. Pure.

One window per limit and scope key: amounts in time order with a running sum. Asking for the
usage since an instant drops what is older, so each question costs what fell out of the window
(amortised O(1)). Instants must not go backwards per window: feed orders in time order.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from decimal import Decimal

from dealchat.controls.engine import LimitCheck


class _Window:
    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: deque[tuple[dt.datetime, Decimal]] = deque()
        self.total = Decimal(0)

    def since(self, start: dt.datetime) -> Decimal:
        while self.entries and self.entries[0][0] < start:
            _at, amount = self.entries.popleft()
            self.total -= amount
        return self.total


class Velocity:
    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _Window] = {}

    def _window(self, check: LimitCheck) -> _Window:
        key = (check.rule_id, check.key)
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = _Window()
        return found

    def usage(self, checks: list[LimitCheck]) -> dict[tuple[str, str], Decimal]:
        return {
            (check.rule_id, check.key): self._window(check).since(check.since)
            for check in checks
            if check.since is not None
        }

    def add(self, checks: list[LimitCheck], *, at: dt.datetime, amount: Decimal) -> None:
        for check in checks:
            if check.since is not None:
                self.add_one(check.rule_id, check.key, at=at, amount=amount)

    def add_one(self, rule_id: str, key: str, *, at: dt.datetime, amount: Decimal) -> None:
        window = self._windows.get((rule_id, key))
        if window is None:
            window = self._windows[(rule_id, key)] = _Window()
        window.entries.append((at, amount))
        window.total += amount
