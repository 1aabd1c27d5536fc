"""`dealchat matrix check`: can the bot log in, who is it, where is it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp
from nio import JoinedRoomsResponse

from dealchat.channels.matrix.session import MatrixLoginError, log_in, new_client
from dealchat.channels.matrix.state import StateStore
from dealchat.settings import MatrixSettings


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    lines: list[str]


async def check(settings: MatrixSettings, state_dir: Path) -> CheckResult:
    """Log in as the bot would (reusing its stored device) and report; never prints a secret."""
    client = new_client(settings)
    try:
        device = await log_in(client, settings, StateStore(state_dir))
        rooms = await client.joined_rooms()
    except (MatrixLoginError, ValueError, OSError, aiohttp.ClientError) as error:
        return CheckResult(False, [f"matrix: cannot log in to {settings.homeserver_url}: {error}"])
    finally:
        await client.close()
    joined = len(rooms.rooms) if isinstance(rooms, JoinedRoomsResponse) else "?"
    return CheckResult(
        True,
        [
            f"matrix: logged in to {settings.homeserver_url} as {settings.user_id}"
            f" (device {device})",
            f"matrix: in {joined} rooms; invites accepted from users "
            f"{settings.allowed_users or '-'} and servers {settings.allowed_servers or '-'}",
        ],
    )
