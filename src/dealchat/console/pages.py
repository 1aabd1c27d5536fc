"""Rendering console pages: one Jinja2 environment (autoescaped), the nav, the session cookie.

Other packages add a page with a route behind `require(...)` and one `NavItem` in `NAV`; the
layout shows an item only to those who hold its right. Templates live in console/templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dealchat.access.policy import Actor, can, can_list
from dealchat.access.rights import Right
from dealchat.identity.passwords import MAX_LENGTH
from dealchat.identity.sessions import COOKIE, csrf_token

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LOGIN_COOKIE = "__Host-dealchat-login"  # the pre-login CSRF secret of the login form

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
_env.globals["password_max"] = MAX_LENGTH  # every password field accepts what the rules allow


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    right: Right | None = None  # None: every signed-in user
    listing: bool = False  # a list filtered to the reader: shown to any holder of the right


NAV: list[NavItem] = [
    NavItem("Home", "/console/"),
    NavItem("Conversations", "/console/conversations", Right.CONVERSATION_READ, listing=True),
    NavItem("Compliance", "/console/compliance", Right.ALERT_READ),
    NavItem("Access log", "/console/access-log", Right.ACCESS_LOG_READ),
    NavItem("Alerts", "/console/alerts", Right.ALERT_READ),
    NavItem("Search", "/console/search", Right.AUDIT_READ),
    NavItem("Reviews", "/console/reviews", Right.ALERT_READ),
    NavItem("Held orders", "/console/holds", Right.ORDER_APPROVE),
    NavItem("Requests for quote", "/console/rfqs", Right.QUOTE_PRICE),
    NavItem("Documents", "/console/documents", Right.DOCUMENT_DOWNLOAD),
    NavItem("Reconciliation", "/console/recon", Right.ORDER_READ),
    NavItem("Users", "/console/users", Right.USER_MANAGE),
]


def nav_for(actor: Actor) -> list[NavItem]:
    return [item for item in NAV if _shown(actor, item)]


def _shown(actor: Actor, item: NavItem) -> bool:
    if item.right is None:
        return True
    return bool(can_list(actor, item.right) if item.listing else can(actor, item.right))


def render(
    template: str, *, actor: Actor | None, csrf: str, status: int = 200, **context: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(
        actor=actor, csrf=csrf, nav=nav_for(actor) if actor else [], **context
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def return_to(page: str) -> str:
    """A console page to go back to after logging in (`/console/login?next=`), or "" for the
    home: only a path of this console, never another site or the login itself."""
    if (
        page.startswith("/console/")
        and not page.startswith(("/console/login", "/console/logout", "/console/static/"))
        and "//" not in page
        and "\\" not in page
        and len(page) <= 500
        and page.isprintable()
    ):
        return page
    return ""


def error_page(status: int, message: str, right: str | None) -> HTMLResponse:
    """A refusal (403) or a missing page (404) as a person reads it: what happened, and the way
    back. It says no more than the problem+json an API client gets (its title, the right)."""
    if status == 403:
        title = "Not allowed"
        if right:
            sentence = f"This page needs the right {right}, which your roles do not give you."
        elif message and message != title:
            sentence = message[0].upper() + message[1:] + "."
        else:
            sentence = "Your roles do not allow this page."
        sentence += " Ask an administrator if you need it."
    else:
        title, sentence = "Not found", "There is no such page, or what it showed no longer exists."
    return render("error.html", actor=None, csrf="", status=status, title=title, sentence=sentence)


def csrf_for(request: Request) -> str:
    """The CSRF token a page's forms carry: derived from the session cookie (none without one)."""
    cookie = request.cookies.get(COOKIE)
    return csrf_token(cookie) if cookie else ""


def set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    """`__Host-` cookies: Secure, Path=/, no Domain; and HttpOnly, SameSite=Strict."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def set_session_cookie(response: Response, token: str, *, max_age: int) -> None:
    set_cookie(response, COOKIE, token, max_age=max_age)
