"""The bank's own login page behind a secure link: GET shows the form, POST checks both factors.

What the client signs is what she sees: the page names the channel and the chat handle the link
belongs to (a phone number masked, `identity.handles`), and a step-up page shows the exact ticket
it approves, row by row (read through the app's `TicketRows` hook, `app.state.ticket_rows`)."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dealchat.api.deps import PlatformDep, public, source_ip
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import page_text, passwords, service
from dealchat.identity.handles import channel_name, shown_handle
from dealchat.identity.interfaces import Approval, TicketRows
from dealchat.identity.models import SecureLink

router = APIRouter(dependencies=[Depends(public("the bank's login page behind a secure link"))])

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/webchat/webchat.css"></head>
<body><main><header><h1>{title}</h1>
<p>{never}</p></header>
{body}</main></body></html>"""

_FORM = """<p>{purpose}</p>{notice}
<form method="post" autocomplete="off">
<p><label>{username}<br><input name="username" maxlength="64" required
 autocomplete="username"></label></p>
<p><label>{password}<br><input name="password" type="password" maxlength="{password_max}" required
 autocomplete="current-password"></label></p>
<p><label>{code}<br><input name="otp" inputmode="numeric" pattern="[0-9]{{6}}"
 maxlength="6"{otp_required} autocomplete="one-time-code"></label></p>
<p><button type="submit">{go}</button></p></form>"""

_CHAT = {
    "link": "This links your chat on {channel}, <strong>{handle}</strong>, to your account.",
    "stepup": "Asked for in your chat on {channel}, <strong>{handle}</strong>.",
    "reset": "Asked for in your chat on {channel}, <strong>{handle}</strong>.",
    "reset-set": "Asked for in your chat on {channel}, <strong>{handle}</strong>.",
}
_TICKET = """<section aria-label="ticket"><h2>{heading}</h2>
<table class="ticket">{rows}</table></section>"""
_UNKNOWN_TICKET = "The change you approve is the one described in your chat just now."

_PURPOSE = {
    "link": "Log in to link this chat to your account.",
    "stepup": "Approve the order waiting in your chat with your password and authenticator code.",
}


def page(body: str, status: int = 200, language: str | None = None) -> HTMLResponse:
    """A secure page around `body`, its own words in `language` (English by default)."""
    words = {
        "lang": page_text.html_lang(language),
        "title": page_text.say("dealchat secure page", language),
        "never": page_text.say(
            "This is the bank's own page. Never type your password into a chat.", language
        ),
    }
    return HTMLResponse(_PAGE.format(body=body, **words), status_code=status)


def _form(purpose: str, notice: str = "", context: str = "", language: str | None = None) -> str:
    say = page_text.say
    shown = f'<p role="alert"><strong>{html.escape(say(notice, language))}</strong></p>'
    # A login from a trusted network may leave the code empty (staff only); a confirmation never.
    required = " required" if purpose == "stepup" else ""
    return context + _FORM.format(
        purpose=html.escape(say(_PURPOSE.get(purpose, ""), language)),
        notice=shown if notice else "",
        otp_required=required,
        username=say("Username", language),
        password=say("Password", language),
        code=say("Authenticator code", language),
        go=say("Continue", language),
        password_max=passwords.MAX_LENGTH,
    )


def context_html(session: Session, link: SecureLink, rows_of: TicketRows | None) -> str:
    """The chat the link belongs to and, for a step-up, what it approves, in the link's
    language."""
    return _context(link, _approval(session, link, rows_of))


def _approval(session: Session, link: SecureLink, rows_of: TicketRows | None) -> Approval | None:
    if link.purpose != "stepup" or link.ticket_hash is None or rows_of is None:
        return None
    return rows_of(
        session,
        ticket_hash=link.ticket_hash,
        channel=link.channel,
        external_id=link.external_id,
        language=link.language,
    )


def _context(link: SecureLink, approval: Approval | None) -> str:
    language = link.language
    chat = page_text.say(_CHAT.get(link.purpose, _CHAT["link"]), language).format(
        channel=html.escape(channel_name(link.channel)),
        handle=html.escape(shown_handle(link.channel, link.external_id)),
    )
    out = f'<p class="chat">{chat}</p>'
    if link.purpose != "stepup" or link.ticket_hash is None:
        return out
    if approval is None or not approval.rows:
        return f"<p>{html.escape(page_text.say(_UNKNOWN_TICKET, language))}</p>" + out
    cells = "".join(
        f'<tr><th scope="row">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'
        for label, value in approval.rows
    )
    heading = html.escape(page_text.say("The order you approve", language))
    return _TICKET.format(heading=heading, rows=cells) + out


def _rows_of(request: Request) -> TicketRows | None:
    return getattr(request.app.state, "ticket_rows", None)


def refused(request: Request, error: DealchatError) -> HTMLResponse:
    """A link that cannot be used: no language to go by but the browser's."""
    language = page_text.from_browser(request.headers.get("accept-language", ""))
    return page(
        f"<p>{html.escape(page_text.say(error.message, language))}</p>",
        error.http_status,
        language,
    )


@router.get("/link/{token}", include_in_schema=False)
def show_link(token: str, request: Request, platform: PlatformDep) -> HTMLResponse:
    with unit_of_work(platform.sessions) as session:
        try:
            link = service.open_link(session, token, now=platform.desk.clock())
        except DealchatError as error:
            return refused(request, error)
        context = context_html(session, link, _rows_of(request))
        return page(
            _form(link.purpose, context=context, language=link.language), 200, link.language
        )


@router.post("/link/{token}", include_in_schema=False)
def submit_link(  # noqa: PLR0917 - FastAPI injects these by name
    token: str,
    request: Request,
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    otp: Annotated[str, Form(max_length=6)] = "",  # empty: a trusted network may waive it
) -> HTMLResponse:
    desk = platform.desk
    with unit_of_work(platform.sessions) as session:
        try:
            link = service.open_link(session, token, now=desk.clock())
            language, approval = link.language, _approval(session, link, _rows_of(request))
            context = _context(link, approval)
            result = service.complete_link(
                session,
                sealer=desk.sealer,
                token=token,
                username=username,
                password=password,
                otp=otp,
                policy=desk.policy,
                now=desk.clock(),
                source_ip=source_ip(request),
            )
        except DealchatError as error:
            return refused(request, error)
    if not result.ok:
        return page(_form(result.purpose, result.message, context, language), 401, language)
    done = approval.done if approval is not None and approval.done else result.message
    answer = html.escape(page_text.say(done, language))
    return page(f"{context}<p>{answer}</p>", 200, language)  # the answer last
