"""`dealchat roles ...`: the rights catalogue, roles, grants with conditions, assignments."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.access.defaults import DEFAULT_ROLES
from dealchat.access.models import Role, RoleAssignment
from dealchat.access.rights import Right
from dealchat.cli.common import platform
from dealchat.cli.guard import EXIT_ERROR, TokenOption, acting, host_operator, requires
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode

app = typer.Typer(no_args_is_help=True, help="Roles: build them from rights, assign them to users.")

WhereOption = Annotated[
    list[str] | None,
    typer.Option("--where", help="A condition NAME=V1,V2 (desk, region, client_book); repeatable."),
]


@app.command("rights")
@host_operator("prints the public catalogue of right names, reads no data")
def rights() -> None:
    """The catalogue of rights roles are built from."""
    for right in Right:
        typer.echo(right.value)


@app.command("list")
@requires(Right.ROLE_MANAGE)
def list_roles(token: TokenOption) -> None:
    """Every role with its grants and users, as JSON lines."""
    with acting(token, Right.ROLE_MANAGE, "roles list") as (_, session, _actor):
        for view in access.list_roles(session):
            typer.echo(json.dumps(view.__dict__, sort_keys=True))


@app.command("create")
@requires(Right.ROLE_MANAGE)
def create(name: str, token: TokenOption, description: str = "") -> None:
    with acting(token, Right.ROLE_MANAGE, "roles create") as (_, session, actor):
        access.create_role(session, actor=actor, name=name, description=description)
    typer.echo(f"created role {name}")


@app.command("delete")
@requires(Right.ROLE_MANAGE)
def delete(name: str, token: TokenOption) -> None:
    with acting(token, Right.ROLE_MANAGE, "roles delete") as (_, session, actor):
        access.delete_role(session, actor=actor, name=name)
    typer.echo(f"deleted role {name}")


def _conditions(where: list[str] | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in where or []:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise DealchatError(ErrorCode.BAD_REQUEST, f"--where {item!r}: NAME=V1,V2")
        found.setdefault(name.strip(), []).extend(v.strip() for v in values.split(","))
    return found


@app.command("grant")
@requires(Right.ROLE_MANAGE)
def grant(role: str, right: str, token: TokenOption, where: WhereOption = None) -> None:
    """Add RIGHT to ROLE, optionally only where the resource's attributes match."""
    with acting(token, Right.ROLE_MANAGE, "roles grant") as (_, session, actor):
        row = access.add_grant(
            session,
            actor=actor,
            role=role,
            right=access.parse_right(right),
            conditions=_conditions(where),
        )
        typer.echo(f"granted {right} to {role} (grant {row.id})")


@app.command("revoke-grant")
@requires(Right.ROLE_MANAGE)
def revoke_grant(grant_id: str, token: TokenOption) -> None:
    with acting(token, Right.ROLE_MANAGE, "roles revoke-grant") as (_, session, actor):
        access.remove_grant(session, actor=actor, grant_id=grant_id)
    typer.echo(f"removed grant {grant_id}")


@app.command("assign")
@requires(Right.ROLE_MANAGE)
def assign(role: str, username: str, token: TokenOption) -> None:
    with acting(token, Right.ROLE_MANAGE, "roles assign") as (_, session, actor):
        access.assign(session, actor=actor, role=role, username=username)
    typer.echo(f"{username} now holds {role}")


@app.command("unassign")
@requires(Right.ROLE_MANAGE)
def unassign(role: str, username: str, token: TokenOption) -> None:
    with acting(token, Right.ROLE_MANAGE, "roles unassign") as (_, session, actor):
        access.unassign(session, actor=actor, role=role, username=username)
    typer.echo(f"{username} no longer holds {role}")


@app.command("set-attributes")
@requires(Right.USER_MANAGE)
def set_attributes(
    username: str,
    token: TokenOption,
    desk: str | None = None,
    region: str | None = None,
    client_book: str | None = None,
) -> None:
    """A user's desk, region and client book (what grant conditions match against)."""
    given = {"desk": desk, "region": region, "client_book": client_book}
    with acting(token, Right.USER_MANAGE, "roles set-attributes") as (_, session, actor):
        user = access.set_attributes(
            session,
            actor=actor,
            username=username,
            attributes={k: v for k, v in given.items() if v is not None},
        )
        typer.echo(json.dumps(user.attributes(), sort_keys=True))


@app.command("set-name")
@requires(Right.USER_MANAGE)
def set_name(username: str, name: str, token: TokenOption) -> None:
    """The name a bank user's messages to clients are signed with ("Dan Lee")."""
    with acting(token, Right.USER_MANAGE, "roles set-name") as (_, session, actor):
        user = access.set_display_name(session, actor=actor, username=username, name=name)
        typer.echo(json.dumps({"username": user.username, "display_name": user.display_name}))


@app.command("seed")
@host_operator("installs the default roles on the host's database; adds, never widens a user")
def seed() -> None:
    """Create the default roles (admin, dealer, compliance, controls, client) that are missing."""
    with platform() as built, unit_of_work(built.sessions) as session:
        added = access.seed_defaults(session)
    typer.echo("\n".join(added) if added else "default roles already present")
    typer.echo(f"roles: {', '.join(DEFAULT_ROLES)}")


@app.command("bootstrap-admin")
@host_operator("names the first administrator of an empty installation, refused once there is one")
def bootstrap_admin(username: str) -> None:
    """Give USERNAME the admin role, only while nobody holds it (the first administrator)."""
    try:
        with platform() as built, unit_of_work(built.sessions) as session:
            access.seed_defaults(session)
            admin = access.role_named(session, "admin")
            held = session.scalar(
                select(RoleAssignment.id).join(Role).where(Role.id == admin.id).limit(1)
            )
            if held is not None:
                raise DealchatError(
                    ErrorCode.CONFLICT, "there is an administrator already; ask them"
                )
            access.assign(session, actor=access.system_actor(), role="admin", username=username)
    except DealchatError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(EXIT_ERROR) from error
    typer.echo(f"{username} is the first administrator")
