"""Logging the bot in: an access token from its file, or a password login kept as one device."""

from __future__ import annotations

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from dealchat.channels.matrix.state import StateStore, StoredSession
from dealchat.settings import MatrixSettings


class MatrixLoginError(RuntimeError):
    """The homeserver refused the bot's credentials, or the account is not the configured one."""


def new_client(settings: MatrixSettings) -> AsyncClient:
    """A client that leaves retries to us: no built-in 429 or timeout loops."""
    assert settings.homeserver_url is not None
    assert settings.user_id is not None
    config = AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=settings.sync_timeout_seconds + 30,
        store_sync_tokens=False,
        encryption_enabled=False,
    )
    return AsyncClient(settings.homeserver_url, settings.user_id, config=config)


async def log_in(client: AsyncClient, settings: MatrixSettings, state: StateStore) -> str:
    """Log the client in; returns the device id. Raises MatrixLoginError."""
    assert settings.user_id is not None
    kind, secret = settings.secret()
    if kind == "access_token":
        return await _restore(client, settings.user_id, secret.get_secret_value())
    stored = state.session(settings.user_id)
    if stored is not None:
        try:
            return await _restore(client, stored.user_id, stored.access_token, stored.device_id)
        except MatrixLoginError:
            state.forget_session()  # revoked or expired: a fresh password login below
    response = await client.login(
        password=secret.get_secret_value(), device_name=settings.device_name
    )
    if not isinstance(response, LoginResponse):
        raise MatrixLoginError(f"login as {settings.user_id} refused: {response.status_code}")
    if response.user_id != settings.user_id:
        raise MatrixLoginError(f"logged in as {response.user_id}, not {settings.user_id}")
    state.save_session(StoredSession(response.user_id, response.device_id, response.access_token))
    return str(response.device_id)


async def _restore(
    client: AsyncClient, user_id: str, access_token: str, device_id: str | None = None
) -> str:
    client.restore_login(user_id, device_id or "", access_token)
    whoami = await client.whoami()
    if not isinstance(whoami, WhoamiResponse):
        client.access_token = ""
        raise MatrixLoginError(f"the access token for {user_id} is refused: {whoami.status_code}")
    if whoami.user_id != user_id:
        client.access_token = ""
        raise MatrixLoginError(f"the access token belongs to {whoami.user_id}, not {user_id}")
    device = whoami.device_id or device_id or ""
    client.restore_login(user_id, device, access_token)
    return device
