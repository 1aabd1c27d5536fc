"""`dealchat roles` and `dealchat tokens`, and the role x right matrix over every CLI command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from dealchat.access import service as access
from dealchat.access.defaults import DEFAULT_ROLES
from dealchat.access.policy import can
from dealchat.api.deps import Platform
from dealchat.cli.guard import EXIT_DENIED, declared
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.settings import Settings
from tests.factories.access import token_for
from tests.factories.identity import make_user


@pytest.fixture
def env(settings: Settings, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Platform:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    monkeypatch.delenv("DEALCHAT_TOKEN", raising=False)
    return platform


def _run(*args: str, token: str | None = None) -> Result:
    env = {"DEALCHAT_TOKEN": token} if token else {}
    return CliRunner().invoke(app, list(args), env=env)


def _commands() -> Iterator[tuple[list[str], Any]]:
    """Every leaf command of the CLI with its path (typer vendors click: duck-typed)."""

    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk([*path, name], sub)
        else:
            yield path, command

    yield from walk([], typer.main.get_command(app))


def test_every_command_declares_who_may_run_it() -> None:
    undeclared = [
        " ".join(path) for path, command in _commands() if declared(command.callback) is None
    ]
    assert not undeclared, (
        "commands without @requires(Right.X) or @host_operator('why') under @app.command: "
        f"{undeclared}"
    )


def _probe_args(command: Any) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if not param.required or param.name == "token":
            continue
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        probe = __file__ if annotation is Path else "probe-name"  # a file that must exist
        if param.param_type_name == "argument":
            args.append(probe)
        else:
            args += [param.opts[0], probe]
    return args


def test_role_by_right_matrix_over_every_guarded_command(env: Platform) -> None:
    system = access.system_actor()
    with unit_of_work(env.sessions) as session:
        access.seed_defaults(session)
    checked = 0
    for role in DEFAULT_ROLES:
        user = make_user(env, f"m-{role}", kind="external" if role == "client" else "internal")
        with unit_of_work(env.sessions) as session:
            access.assign(session, actor=system, role=role, username=user.username)
            row = session.get(User, user.id)
            assert row is not None
            actor = access.actor_for(session, row)
        token = token_for(env, user.id)
        for path, command in _commands():
            rule = declared(command.callback)
            assert rule is not None
            if rule.right is None:
                continue
            result = _run(*path, *_probe_args(command), token=token)
            where = f"{role}: {' '.join(path)} ({rule.right}) -> {result.exit_code} {result.output}"
            if can(actor, rule.right):
                assert result.exit_code != EXIT_DENIED, where
            else:
                assert result.exit_code == EXIT_DENIED, where
            checked += 1
    assert checked >= len(DEFAULT_ROLES) * 10
    denied = _run("roles", "list", token="dct_" + "x" * 43)
    assert denied.exit_code == EXIT_DENIED


def test_an_admin_manages_roles_and_tokens_from_the_cli(env: Platform) -> None:
    bootstrap = CliRunner().invoke(app, ["roles", "bootstrap-admin", "root"])
    assert bootstrap.exit_code != 0, "no such user yet"
    root = make_user(env, "root", kind="internal")
    make_user(env, "dana", kind="internal")
    assert _run("roles", "bootstrap-admin", "root").exit_code == 0
    second = _run("roles", "bootstrap-admin", "dana")
    assert second.exit_code == 2
    assert "administrator already" in second.output
    admin = token_for(env, root.id)
    assert (
        _run("roles", "create", "ldn", "--description", "London desk", token=admin).exit_code == 0
    )
    granted = _run("roles", "grant", "ldn", "order:approve", "--where", "desk=FX-LDN", token=admin)
    assert granted.exit_code == 0, granted.output
    assert _run("roles", "assign", "ldn", "dana", token=admin).exit_code == 0
    attrs = _run("roles", "set-attributes", "dana", "--desk", "FX-LDN", token=admin)
    assert json.loads(attrs.output) == {"desk": "FX-LDN"}
    named = _run("roles", "set-name", "dana", "Dana  Scully", token=admin)
    assert json.loads(named.output) == {"username": "dana", "display_name": "Dana Scully"}
    assert _run("roles", "set-name", "dana", "   ", token=admin).exit_code != 0
    listed = [json.loads(line) for line in _run("roles", "list", token=admin).output.splitlines()]
    ldn = next(r for r in listed if r["name"] == "ldn")
    assert ldn["users"] == ["dana"]
    assert ldn["grants"][0]["conditions"] == {"desk": ["FX-LDN"]}
    issued = _run("tokens", "issue", "dana", "--name", "bot", "--days", "2", token=admin)
    assert issued.exit_code == 0, issued.output
    dana_token = issued.output.splitlines()[-1]
    assert dana_token.startswith("dct_")
    assert _run("roles", "list", token=dana_token).exit_code == EXIT_DENIED
    tokens = [
        json.loads(x)
        for x in _run("tokens", "list", "--user", "dana", token=admin).output.splitlines()
    ]
    assert [t["name"] for t in tokens] == ["bot"]
    assert _run("tokens", "revoke", tokens[0]["id"], token=admin).exit_code == 0
    revoked = _run("tokens", "revoke-all", "root", "--reason", "rotation", token=admin)
    assert "revoked 1 sessions and tokens of root" in revoked.output
    assert _run("roles", "list", token=admin).exit_code == EXIT_DENIED


def test_the_cli_refuses_granting_what_the_actor_does_not_hold(env: Platform) -> None:
    sec = make_user(env, "sec", kind="internal")
    with unit_of_work(env.sessions) as session:
        system = access.system_actor()
        access.create_role(session, actor=system, name="security")
        access.add_grant(session, actor=system, role="security", right=access.Right.ROLE_MANAGE)
        access.assign(session, actor=system, role="security", username="sec")
    token = token_for(env, sec.id)
    assert _run("roles", "create", "r9", token=token).exit_code == 0
    refused = _run("roles", "grant", "r9", "order:approve", token=token)
    assert refused.exit_code == EXIT_DENIED
    assert "nobody grants a right they do not hold" in refused.output
    assert _run("roles", "grant", "r9", "order:launch", token=token).exit_code == 2
