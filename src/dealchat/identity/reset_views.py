"""The client's password reset pages behind the link her chat got (identity/self_reset.py): first
her second factor (the authenticator's code, or an SMS code sent when she asks on the page), then
a new password twice on a page of its own link. In the chat's language, like the login page."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from dealchat.api.deps import Platform, PlatformDep, public, source_ip
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import page_text, passwords, self_reset, sms
from dealchat.identity.views import context_html, page, refused

router = APIRouter(
    dependencies=[Depends(public("a client's password reset behind a single-use chat link"))]
)
Password = Annotated[str, Form(min_length=1, max_length=passwords.MAX_LENGTH)]
Code = Annotated[str, Form(max_length=6)]

_ASK = """<p>{purpose}</p>{notice}
<form method="post" action="/reset/{token}" autocomplete="off">{challenge}
<p><label>{label}<br><input name="otp" inputmode="numeric" pattern="[0-9]{{6}}" maxlength="6"
 required autocomplete="one-time-code"></label></p>
<p><button type="submit">{go}</button></p></form>"""
_SEND = """<form method="post" action="/reset/{token}/sms">
<p><button type="submit">{send}</button></p></form>"""
_SET = """<p>{purpose}</p>{notice}
<form method="post" action="/reset/{token}/password" autocomplete="off">
<p><label>{new}<br><input name="password" type="password" required minlength="{shortest}"
 maxlength="{longest}" autocomplete="new-password"></label></p>
<p><label>{again}<br><input name="password_again" type="password" required
 minlength="{shortest}" maxlength="{longest}" autocomplete="new-password"></label></p>
<p><button type="submit">{go}</button></p></form>"""

BY_TOTP = "Forgot your password? First show it is you with the code from your authenticator app."
BY_SMS = "Forgot your password? First show it is you with the code we send to your phone by SMS."
SENT = "A code was sent by SMS to {phone}. It is valid 5 minutes."
CHOOSE = (
    "Now choose your new password: at least {shortest} characters, at most {longest}. "
    "A phrase of several words is good; common passwords are refused."
)
WRONG_CODE = "That code did not match. Try the newest code."
DIFFER = "The two passwords differ. Type the same one twice."
DONE = "Your password is changed. Go back to the chat and log in with it."


def _notice(text: str, language: str | None) -> str:
    if not text:
        return ""
    return f'<p role="alert"><strong>{html.escape(page_text.say(text, language))}</strong></p>'


def _ask_page(
    platform: Platform,
    token: str,
    *,
    notice: str = "",
    challenge: str | None = None,
    sent_to: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The first page: her second factor; for an SMS client, a button sending the code."""
    with unit_of_work(platform.sessions) as session:
        opened = self_reset.open_page(
            session, token, purpose=self_reset.ASK, now=platform.desk.clock()
        )
        context = context_html(session, opened.link, None)
        language, by_sms = opened.link.language, opened.by_sms
    say = page_text.say
    hidden = f'<input type="hidden" name="sms_challenge" value="{html.escape(challenge or "")}">'
    sent = say(SENT, language).format(phone=html.escape(sent_to)) if sent_to else ""
    body = _ASK.format(
        purpose=html.escape(say(BY_SMS if by_sms else BY_TOTP, language)),
        notice=_notice(notice, language) + (f"<p>{sent}</p>" if sent else ""),
        token=html.escape(token),
        challenge=hidden if challenge else "",
        label=say("SMS code" if by_sms else "Authenticator code", language),
        go=say("Continue", language),
    )
    if by_sms:
        body = _SEND.format(
            token=html.escape(token), send=say("Send me a code by SMS", language)
        ) + (body if challenge else "")
    return page(context + body, status, language)


def _set_page(
    platform: Platform, token: str, *, notice: str = "", status: int = 200
) -> HTMLResponse:
    """The second page: the new password, twice."""
    with unit_of_work(platform.sessions) as session:
        opened = self_reset.open_page(
            session, token, purpose=self_reset.SET, now=platform.desk.clock()
        )
        context = context_html(session, opened.link, None)
        language, shortest = opened.link.language, passwords.min_length(opened.user.kind)
    say = page_text.say
    body = _SET.format(
        purpose=html.escape(
            say(CHOOSE, language).format(shortest=shortest, longest=passwords.MAX_LENGTH)
        ),
        notice=_notice(notice, language),
        token=html.escape(token),
        new=say("New password", language),
        again=say("New password again", language),
        shortest=shortest,
        longest=passwords.MAX_LENGTH,
        go=say("Continue", language),
    )
    return page(context + body, status, language)


@router.get("/reset/{token}", include_in_schema=False)
def show_reset(token: str, request: Request, platform: PlatformDep) -> HTMLResponse:
    try:
        return _ask_page(platform, token)
    except DealchatError as error:
        return refused(request, error)


@router.post("/reset/{token}/sms", include_in_schema=False)
def send_sms(token: str, request: Request, platform: PlatformDep) -> HTMLResponse:
    """An SMS code for a client whose second factor is her phone (the send limits apply)."""
    desk = platform.desk
    try:
        with unit_of_work(platform.sessions) as session:
            opened = self_reset.open_page(session, token, purpose=self_reset.ASK, now=desk.clock())
            if not opened.by_sms:
                return _ask_page(platform, token)
            challenge = sms.send_code(
                session, sealer=desk.sealer, sms=platform.sms, user=opened.user, now=desk.clock()
            )
            phone = sms.masked(opened.user.sms_phone or "")
        return _ask_page(platform, token, challenge=challenge, sent_to=phone)
    except DealchatError as error:
        if error.http_status == 429:
            return _ask_page(platform, token, notice=error.message, status=429)
        return refused(request, error)


@router.post("/reset/{token}", include_in_schema=False)
def check_factor(
    token: str,
    request: Request,
    platform: PlatformDep,
    otp: Code,
    sms_challenge: Annotated[str | None, Form(max_length=32)] = None,
) -> HTMLResponse:
    desk = platform.desk
    proof = self_reset.Proof(otp, source_ip(request), sms_challenge)
    try:
        with unit_of_work(platform.sessions) as session:
            onward = self_reset.check_factor(
                session,
                sealer=desk.sealer,
                token=token,
                proof=proof,
                policy=desk.policy,
                now=desk.clock(),
            )
        if onward is None:
            return _ask_page(
                platform, token, notice=WRONG_CODE, challenge=sms_challenge, status=401
            )
        return _set_page(platform, onward)
    except DealchatError as error:
        return refused(request, error)


@router.post("/reset/{token}/password", include_in_schema=False)
def set_password(
    token: str,
    request: Request,
    platform: PlatformDep,
    password: Password,
    password_again: Password,
) -> HTMLResponse:
    if password != password_again:
        return _or_refused(request, platform, token, DIFFER)
    try:
        with unit_of_work(platform.sessions) as session:
            link = self_reset.open_page(
                session, token, purpose=self_reset.SET, now=platform.desk.clock()
            ).link
            language = link.language
            context = context_html(session, link, None)
            self_reset.set_password(
                session, token=token, password=password, now=platform.desk.clock()
            )
    except DealchatError as error:
        if error.http_status == 400:  # the rules refused it: the link is not spent
            return _or_refused(request, platform, token, error.message)
        return refused(request, error)
    return page(f"{context}<p>{html.escape(page_text.say(DONE, language))}</p>", 200, language)


def _or_refused(request: Request, platform: Platform, token: str, notice: str) -> HTMLResponse:
    try:
        return _set_page(platform, token, notice=notice, status=400)
    except DealchatError as error:
        return refused(request, error)
