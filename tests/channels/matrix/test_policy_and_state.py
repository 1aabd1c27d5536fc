"""The bot's pure rules, its state files and its settings, without a homeserver."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from dealchat.channels.interfaces import OutboundMessage
from dealchat.channels.matrix import policy
from dealchat.channels.matrix.sender import content_of
from dealchat.channels.matrix.state import StateStore, StoredSession
from dealchat.settings import MatrixSettings, Settings


def test_allowed_by_name_or_by_server_and_nobody_by_default() -> None:
    users, servers = ["@alice:bank.example"], ["clients.example"]
    assert policy.is_allowed("@alice:bank.example", users=users, servers=servers)
    assert policy.is_allowed("@bob:clients.example", users=users, servers=servers)
    assert not policy.is_allowed("@bob:bank.example", users=users, servers=servers)
    assert not policy.is_allowed("@eve:clients.example.evil", users=users, servers=servers)
    assert not policy.is_allowed("clients.example", users=users, servers=servers)
    assert not policy.is_allowed("@alice:bank.example", users=[], servers=[])
    assert policy.server_of("@a:b.example:8448") == "b.example:8448"


def test_only_events_after_the_bots_last_join_are_new() -> None:
    events = ["old", "join", "new", "join", "newer"]
    assert policy.after_last(events, lambda e: e == "join") == ["newer"]
    assert policy.after_last(["a", "b"], lambda e: e == "join") == ["a", "b"]


def test_reply_fallback_is_stripped_and_ids_are_checked() -> None:
    quoted = "> <@bot:hs> TO CONFIRM: YOU BUY\n> more\n\nc"
    assert policy.without_reply_fallback(quoted) == "c"
    assert policy.without_reply_fallback("> not a reply") == "> not a reply"
    assert policy.without_reply_fallback("mkt eurusd 1m") == "mkt eurusd 1m"
    assert policy.usable_ids("!room:hs", "$event")
    assert not policy.usable_ids("!room:hs", "$" + "x" * 200)
    assert not policy.usable_ids("")


def test_replies_are_notices_with_the_link_in_text_and_html() -> None:
    content = content_of(OutboundMessage("Log in <here>", link="https://bank/link/t?a=1&b"))
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Log in <here>\nhttps://bank/link/t?a=1&b"
    assert "&lt;here&gt;" in content["formatted_body"]
    assert 'href="https://bank/link/t?a=1&amp;b"' in content["formatted_body"]


def test_state_files_are_private_and_replaced_whole(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "matrix")
    assert store.sync_token() is None
    store.save_sync_token("s1_2_3")
    store.save_sync_token("s4_5_6")
    assert store.sync_token() == "s4_5_6"
    store.save_session(StoredSession("@bot:hs", "DEV", "token"))
    assert store.session("@bot:hs") == StoredSession("@bot:hs", "DEV", "token")
    assert store.session("@other:hs") is None
    for path in (tmp_path / "matrix").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in (tmp_path / "matrix").iterdir()) == ["session.json", "sync-token"]
    store.forget_session()
    assert store.session("@bot:hs") is None


def test_settings_want_exactly_one_secret_file_and_real_ids(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-value\n", encoding="utf-8")
    base = {"homeserver_url": "https://hs.example/", "user_id": "@bot:hs.example"}
    settings = MatrixSettings.model_validate({**base, "password_file": secret})
    assert settings.enabled
    assert settings.homeserver_url == "https://hs.example"
    kind, value = settings.secret()
    assert (kind, value.get_secret_value()) == ("password", "s3cret-value")
    assert "s3cret" not in repr(settings.secret())
    assert not MatrixSettings().enabled
    with pytest.raises(ValidationError, match="exactly one"):
        MatrixSettings.model_validate(base)
    with pytest.raises(ValidationError, match="exactly one"):
        MatrixSettings.model_validate(
            {**base, "password_file": secret, "access_token_file": secret}
        )
    with pytest.raises(ValidationError, match="Matrix user id"):
        MatrixSettings.model_validate({**base, "user_id": "bot", "password_file": secret})
    with pytest.raises(ValidationError, match="not a Matrix user id"):
        MatrixSettings.model_validate({**base, "password_file": secret, "allowed_users": ["alice"]})
    with pytest.raises(ValidationError, match="http"):
        MatrixSettings.model_validate({**base, "homeserver_url": "hs.example"})
    secret.write_text("changeme", encoding="utf-8")
    with pytest.raises(ValueError, match="placeholder"):
        settings.secret()


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("syt_abc", encoding="utf-8")
    monkeypatch.setenv("DEALCHAT_MATRIX__HOMESERVER_URL", "http://127.0.0.1:8008")
    monkeypatch.setenv("DEALCHAT_MATRIX__USER_ID", "@dealchat:localhost")
    monkeypatch.setenv("DEALCHAT_MATRIX__ACCESS_TOKEN_FILE", str(token))
    monkeypatch.setenv("DEALCHAT_MATRIX__ALLOWED_SERVERS", '["localhost"]')
    matrix = Settings().matrix
    assert matrix.enabled
    assert matrix.allowed_servers == ["localhost"]
    assert matrix.secret()[0] == "access_token"
