"""A test fake of the KEK port (an HSM/KMS stand-in) that records what it was asked to do."""

from __future__ import annotations

from dealchat.records.envelope_kek import MemoryKek


class FakeKms:
    """Delegates the cryptography to a MemoryKek and logs every call as (operation, kek id)."""

    def __init__(self) -> None:
        self._inner = MemoryKek(prefix="fake-kms")
        self.calls: list[tuple[str, str]] = []

    @property
    def current_id(self) -> str:
        return self._inner.current_id

    def wrap(self, data_key: bytes, *, context: str) -> tuple[str, bytes]:
        kek_id, wrapped = self._inner.wrap(data_key, context=context)
        self.calls.append(("wrap", kek_id))
        return kek_id, wrapped

    def unwrap(self, wrapped: bytes, *, kek_id: str, context: str) -> bytes:
        self.calls.append(("unwrap", kek_id))
        return self._inner.unwrap(wrapped, kek_id=kek_id, context=context)

    def rotate(self) -> str:
        self.calls.append(("rotate", ""))
        return self._inner.rotate()

    def retire(self, kek_id: str) -> None:
        self.calls.append(("retire", kek_id))
        self._inner.retire(kek_id)
