"""A real Synapse, started once per test session, and per test fresh accounts and a bot."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dealchat.api.deps import Platform
from dealchat.channels.matrix.runner import MatrixRunner
from dealchat.cli.channels_runtime import running_channels
from dealchat.settings import MatrixSettings
from tests.channels.matrix.client import Person
from tests.channels.matrix.synapse import SYNAPSE_PYTHON, Account, Synapse, running_synapse
from tests.conftest import IN_CI


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    if not SYNAPSE_PYTHON.exists():
        message = f"Synapse is not installed at {SYNAPSE_PYTHON} (make synapse)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with running_synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@dataclass(frozen=True)
class Cast:
    bot: Account
    client: Person
    stranger: Person


@pytest.fixture
def cast(synapse: Synapse) -> Iterator[Cast]:
    tag = secrets.token_hex(4)
    bot = synapse.register(f"dealchat-{tag}")
    client = Person(synapse.url, synapse.register(f"client-{tag}"))
    stranger = Person(synapse.url, synapse.register(f"stranger-{tag}"))
    yield Cast(bot, client, stranger)
    client.http.close()
    stranger.http.close()


def bot_settings(
    synapse: Synapse, cast: Cast, directory: Path, **changes: object
) -> MatrixSettings:
    secret = directory / "matrix-password"
    secret.write_text(cast.bot.password, encoding="utf-8")
    secret.chmod(0o600)
    values: dict[str, object] = {
        "homeserver_url": synapse.url,
        "user_id": cast.bot.user_id,
        "password_file": secret,
        "allowed_users": [cast.client.user_id],
        "sync_timeout_seconds": 5,
    }
    values.update(changes)
    return MatrixSettings.model_validate(values)


@pytest.fixture
def matrix_settings(synapse: Synapse, cast: Cast, tmp_path: Path) -> MatrixSettings:
    return bot_settings(synapse, cast, tmp_path)


@pytest.fixture
def matrix_platform(platform: Platform, matrix_settings: MatrixSettings) -> Platform:
    """The test platform with the Matrix bot switched on in its settings."""
    settings = platform.settings.model_copy(update={"matrix": matrix_settings})
    return dataclasses.replace(platform, settings=settings)


@pytest.fixture
def bot(matrix_platform: Platform) -> Iterator[MatrixRunner]:
    """What `dealchat serve` runs: the outbox dispatcher and the Matrix bot."""
    with running_channels(matrix_platform) as channels:
        assert channels.matrix is not None
        yield channels.matrix


@pytest.fixture
def room(cast: Cast, bot: MatrixRunner) -> str:
    """A room the client opened with the bot, which the bot has joined."""
    room_id = cast.client.create_room(invite=[cast.bot.user_id])
    assert cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite") == "join"
    return room_id
