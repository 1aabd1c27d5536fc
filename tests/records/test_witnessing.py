"""Finding 1: a rolled-back log verified, because every checkpoint lived only in the database the
attacker controls. Now each checkpoint is cosigned by witnesses outside it, in the background,
and `dealchat audit verify` names a rollback or a fork against each witness's latest cosigned
checkpoint. On SQLite and PostgreSQL, with a file witness and a `dealchat witness serve`."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import reading, unit_of_work
from dealchat.records.checkpoints import CheckpointKeys, create_checkpoint
from dealchat.records.cosignature import CosignerKey, split_note
from dealchat.records.events import AuditEvent
from dealchat.records.interfaces import WitnessUnavailableError
from dealchat.records.models import AuditCosignature, AuditEntry
from dealchat.records.service import NewEntry, append
from dealchat.records.verify import verify_log
from dealchat.records.witness import Witness
from dealchat.records.witness_check import (
    TAMPERED,
    WitnessFinding,
    ask_witnesses,
    judge,
    wanted_roots,
)
from dealchat.records.witness_http import HttpWitness, LocalWitness
from dealchat.records.witnessing import Witnessing
from dealchat.settings import Settings
from tests.channels.split import DEALCHAT, _free_port
from tests.records.attacks import lift_triggers, roll_back

NAME = "w1.bank.example/dealchat"


@pytest.fixture
def keys(settings: Settings) -> CheckpointKeys:
    return CheckpointKeys.load(settings.keys_dir, settings.records.origin)


@pytest.fixture
def file_witness(tmp_path: Path, keys: CheckpointKeys) -> LocalWitness:
    witness = Witness(tmp_path / "witness", name=NAME, logs={keys.origin: keys.keyring})
    return LocalWitness(witness, witness.key)


def grow(platform: Platform, keys: CheckpointKeys, count: int, *, tag: str = "n") -> int:
    entries = [NewEntry(AuditEvent.MESSAGE_RECEIVED, "client", f"conversation:c{i % 2}", {tag: i})
               for i in range(count)]  # fmt: skip
    with unit_of_work(platform.sessions) as session:
        append(session, entries=entries)
        signed = create_checkpoint(session, keys=keys)
        assert signed is not None
        return signed.size


def judged(
    platform: Platform, keys: CheckpointKeys, witness: LocalWitness
) -> tuple[int, list[WitnessFinding]]:
    asked = ask_witnesses([witness], origin=keys.origin, log_keys=keys.keyring)
    with reading(platform.sessions) as session:
        result = verify_log(session, keys=keys.keyring, roots_at=wanted_roots(asked))
    assert result.ok, result.problem  # the log re-derives cleanly on its own
    return result.checked, judge(asked, size=result.checked, roots=result.roots)


def events(platform: Platform, event: AuditEvent) -> list[dict[str, object]]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(AuditEntry.payload).where(AuditEntry.event == event.value))
        return [json.loads(row) for row in rows]


def test_each_checkpoint_is_cosigned_and_the_cosignature_stored(
    platform: Platform, keys: CheckpointKeys, file_witness: LocalWitness
) -> None:
    witnessing = Witnessing(platform.sessions, witnesses=[file_witness])
    for batch in (5, 30, 1):
        size = grow(platform, keys, batch)
        witnessing.run_once()
    assert size == 36
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(AuditCosignature).order_by(AuditCosignature.size)).all()
        assert [(r.size, r.witness) for r in rows] == [(5, NAME), (35, NAME), (36, NAME)]
        note = file_witness.latest(keys.origin)
        assert note is not None
        body, lines = split_note(note)
        assert body.startswith(f"{keys.origin}\n36\n")
        assert CosignerKey.from_vkey(file_witness.key.vkey).find(body, lines) is not None
        assert rows[-1].line in lines
    assert judged(platform, keys, file_witness)[1][0].verdict == "ok"


def test_a_rolled_back_log_is_named_against_the_witness(
    platform: Platform, keys: CheckpointKeys, file_witness: LocalWitness
) -> None:
    grow(platform, keys, 40)
    Witnessing(platform.sessions, witnesses=[file_witness]).run_once()
    lift_triggers(platform)
    with unit_of_work(platform.sessions) as session:
        roll_back(session, to=30)
    size, findings = judged(platform, keys, file_witness)
    assert size == 30, "without a witness this log verifies: 'audit log OK'"
    [finding] = findings
    assert finding.verdict == TAMPERED
    assert finding.message.startswith(f"rollback: witness {NAME} cosigned 40 entries at ")
    assert "the log holds 30: entries 31-40 were removed" in finding.message


def test_a_forked_log_is_named_and_the_witness_refuses_it(
    platform: Platform, keys: CheckpointKeys, file_witness: LocalWitness
) -> None:
    witnessing = Witnessing(platform.sessions, witnesses=[file_witness])
    grow(platform, keys, 40)
    witnessing.run_once()
    lift_triggers(platform)
    with unit_of_work(platform.sessions) as session:
        roll_back(session, to=30)
    grow(platform, keys, 20, tag="forged")  # another history past the witnessed size
    size, findings = judged(platform, keys, file_witness)
    assert size == 50
    assert findings[0].verdict == TAMPERED
    assert findings[0].message.startswith(
        f"fork: entries 1-40 do not hash to the root witness {NAME}"
    )
    witnessing.run_once()
    refused = events(platform, AuditEvent.WITNESS_REFUSED)
    assert len(refused) == 1
    assert "inconsistent" in str(refused[0]["reason"])
    assert file_witness.latest(keys.origin).startswith(f"{keys.origin}\n40\n")  # type: ignore[union-attr]


class Flaky:
    """A witness that is down until `up` is set (the test fake of the port)."""

    def __init__(self, real: LocalWitness) -> None:
        self.real, self.up, self.calls = real, False, 0

    @property
    def name(self) -> str:
        return self.real.name

    @property
    def key(self) -> CosignerKey:
        return self.real.key

    def add_checkpoint(self, old_size: int, proof: list[bytes], note: str) -> str:
        self.calls += 1
        if not self.up:
            raise WitnessUnavailableError("ConnectError: connection refused")
        return self.real.add_checkpoint(old_size, proof, note)

    def latest(self, origin: str) -> str | None:
        return self.real.latest(origin)

    def close(self) -> None:
        self.real.close()


def test_a_witness_that_is_down_is_reported_once_retried_and_stops_nothing(
    platform: Platform, keys: CheckpointKeys, file_witness: LocalWitness
) -> None:
    now = [1000.0]
    flaky = Flaky(file_witness)
    witnessing = Witnessing(platform.sessions, witnesses=[flaky], clock=lambda: now[0])
    for _ in range(3):
        grow(platform, keys, 4)  # the log goes on
        witnessing.run_once()
        now[0] += 0.3  # within the back-off (1 s): not asked again
    assert flaky.calls == 1
    now[0] += 10
    witnessing.run_once()
    assert flaky.calls == 2
    assert [e["reason"] for e in events(platform, AuditEvent.WITNESS_FAILED)] == [
        "ConnectError: connection refused"
    ], "reported once, not once per try"
    assert "connection refused" in witnessing.status()[NAME]
    flaky.up = True
    now[0] += 60
    grow(platform, keys, 1)
    witnessing.run_once()
    recovered = events(platform, AuditEvent.WITNESS_RECOVERED)
    assert [e["cosigned"] for e in recovered] == [14]  # 12 + the witness:failed entry + 1
    assert witnessing.status()[NAME] == "cosigned up to 14"


def test_chat_traffic_never_waits_on_a_witness(
    platform: Platform, keys: CheckpointKeys, file_witness: LocalWitness
) -> None:
    entered, release = threading.Event(), threading.Event()

    class Slow(Flaky):
        def add_checkpoint(self, old_size: int, proof: list[bytes], note: str) -> str:
            entered.set()
            release.wait(20)
            return self.real.add_checkpoint(old_size, proof, note)

    witnessing = Witnessing(platform.sessions, witnesses=[Slow(file_witness)])
    grow(platform, keys, 3)
    witnessing.start()
    try:
        witnessing.wake()
        assert entered.wait(10), "the witnessing thread asks the witness"
        writer = threading.Thread(target=grow, args=(platform, keys, 2))
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive(), "a write waited for the witness"
    finally:
        release.set()
        witnessing.stop()
    with unit_of_work(platform.sessions) as session:
        assert sorted(session.scalars(select(AuditCosignature.size))) == [3, 5]


def _serve_witness(
    tmp_path: Path, keys: CheckpointKeys
) -> tuple[subprocess.Popen[bytes], str, str]:
    directory, port = tmp_path / "served-witness", _free_port()
    vkey = subprocess.run(
        [str(DEALCHAT), "witness", "key", "--dir", str(directory), "--name", NAME],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    command = [str(DEALCHAT), "witness", "serve", "--dir", str(directory), "--name", NAME,
               "--log-key", keys.signer.verifier.vkey, "--port", str(port)]  # fmt: skip
    with (tmp_path / "witness.log").open("wb") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
    url = f"http://127.0.0.1:{port}"
    probe = HttpWitness(url, CosignerKey.from_vkey(vkey))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if probe.latest("x") is None:
                break
        except WitnessUnavailableError:
            time.sleep(0.2)
    probe.close()
    return server, url, vkey


def test_audit_verify_asks_a_served_witness(
    platform: Platform,
    keys: CheckpointKeys,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, url, vkey = _serve_witness(tmp_path, keys)
    try:
        served = HttpWitness(url, CosignerKey.from_vkey(vkey))
        grow(platform, keys, 25)
        Witnessing(platform.sessions, witnesses=[served]).run_once()
        served.close()
        monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
        monkeypatch.setenv("DEALCHAT_RECORDS__WITNESSES", json.dumps([{"url": url, "key": vkey}]))
        ok = CliRunner().invoke(app, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        assert f"witness {NAME}: the log extends its checkpoint at 25" in ok.output
        lift_triggers(platform)
        with unit_of_work(platform.sessions) as session:
            roll_back(session, to=20)
        rolled = CliRunner().invoke(app, ["audit", "verify"])
        assert rolled.exit_code == 1, rolled.output
        assert f"rollback: witness {NAME} cosigned 25 entries" in rolled.output
        assert "a witness shows the log was rolled back or forked" in rolled.output
    finally:
        server.terminate()
        server.wait(timeout=10)
    down = CliRunner().invoke(app, ["audit", "verify"])
    assert down.exit_code == 2, down.output
    assert f"witness {NAME} could not be asked" in down.output
