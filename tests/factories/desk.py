"""The desk's people for tests: a dealer (sees every conversation, nobody's RM), an RM (alice's
only) and the clients alice (RM rita) and bob (RM someone else); console logins."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from tests.conftest import Clock
from tests.factories.identity import TestUser, make_user


@dataclass(frozen=True)
class DeskPeople:
    dan: TestUser  # dealer, "Dan Lee" of FX-LDN
    rita: TestUser  # rm of alice
    ray: TestUser  # rm of bob
    alice: TestUser
    bob: TestUser


def desk_people(platform: Platform) -> DeskPeople:
    people = DeskPeople(
        dan=make_user(platform, "dan", kind="internal"),
        rita=make_user(platform, "rita", kind="internal"),
        ray=make_user(platform, "ray", kind="internal"),
        alice=make_user(platform, "alice"),
        bob=make_user(platform, "bob"),
    )
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        for username, role in (("dan", "dealer"), ("rita", "rm"), ("ray", "rm")):
            access.assign(session, actor=system, role=role, username=username)
        names = {
            "dan": ("Dan Lee", "FX-LDN"),
            "rita": ("Rita Patel", None),
            "ray": ("Ray Chen", None),
        }
        for username, (name, desk) in names.items():
            user = session.scalars(select(User).where(User.username == username)).one()
            user.display_name, user.desk = name, desk
        for client, manager in (("alice", people.rita), ("bob", people.ray)):
            user = session.scalars(select(User).where(User.username == client)).one()
            user.owner_id = manager.id
    return people


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def console_login(browser: httpx.Client, user: TestUser, clock: Clock) -> str:
    """Log `user` in to the console; returns the CSRF token of its session."""
    page = browser.get("/console/login")
    form = {
        "username": user.username,
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "csrf_token": csrf_of(page.text),
    }
    response = browser.post("/console/login", data=form)
    assert response.status_code == 303, response.text
    clock.advance(30)
    return csrf_of(browser.get("/console/").text)
