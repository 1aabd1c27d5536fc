"""The key-encryption keys: files 0600 created on first run, versions, rotation and retirement."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from dealchat.records.envelope_kek import FileKek, MemoryKek
from dealchat.records.interfaces import KeyEncryptionKey
from tests.records.fakes import FakeKms


def test_the_file_kek_is_generated_on_first_run_0600_in_a_0700_folder(tmp_path: Path) -> None:
    folder = tmp_path / "keys" / "kek"
    kek = FileKek(folder)
    assert kek.current_id == "file:kek-0001"
    key_file = folder / "kek-0001.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    assert len(key_file.read_bytes()) == 32
    before = key_file.read_bytes()
    assert FileKek(folder).current_id == "file:kek-0001"  # a restart reuses it
    assert key_file.read_bytes() == before


def test_a_kek_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    kek = FileKek(tmp_path)
    (tmp_path / "kek-0001.key").chmod(0o644)
    with pytest.raises(PermissionError):
        kek.wrap(secrets.token_bytes(32), context="c")


@pytest.mark.parametrize("make", [FileKek, lambda _: MemoryKek(), lambda _: FakeKms()])
def test_every_kek_wraps_rotates_and_retires(make: object, tmp_path: Path) -> None:
    kek: KeyEncryptionKey = make(tmp_path)  # type: ignore[operator]
    data_key = secrets.token_bytes(32)
    first, wrapped = kek.wrap(data_key, context="datakey:1")
    assert data_key not in wrapped
    assert kek.unwrap(wrapped, kek_id=first, context="datakey:1") == data_key
    with pytest.raises(InvalidTag):  # the context is bound: a wrapped key moved to another row
        kek.unwrap(wrapped, kek_id=first, context="datakey:2")
    second = kek.rotate()
    assert second != first
    assert kek.current_id == second
    again, rewrapped = kek.wrap(data_key, context="datakey:1")
    assert again == second
    assert kek.unwrap(wrapped, kek_id=first, context="datakey:1") == data_key  # old still works
    with pytest.raises(ValueError, match="current"):
        kek.retire(second)
    kek.retire(first)
    with pytest.raises(KeyError):
        kek.unwrap(wrapped, kek_id=first, context="datakey:1")
    assert kek.unwrap(rewrapped, kek_id=second, context="datakey:1") == data_key


def test_retiring_a_file_kek_removes_its_file(tmp_path: Path) -> None:
    kek = FileKek(tmp_path)
    kek.rotate()
    kek.retire("file:kek-0001")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kek-0002.key"]
    with pytest.raises(KeyError):
        kek.unwrap(b"x" * 40, kek_id="file:../../etc/passwd", context="c")
