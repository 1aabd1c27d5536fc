"""The enrolment page behind a single-use link: a QR code (inline SVG) and one code to finish."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse

from dealchat.api.deps import Platform, PlatformDep, public
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import enrolment, passwords, service
from dealchat.identity.views import page

router = APIRouter(
    dependencies=[Depends(public("authenticator enrolment behind a single-use link"))]
)

_FORM = """<p>Scan this code with your authenticator app, then type the 6-digit code it shows.</p>
<figure>{qr}<figcaption>Or type this key: <code>{secret}</code></figcaption></figure>{notice}
<form method="post" autocomplete="off">{password}
<p><label>Code from the app<br><input name="otp" inputmode="numeric" pattern="[0-9]{{6}}"
 maxlength="6" required autocomplete="one-time-code"></label></p>
<p><button type="submit">Finish enrolment</button></p></form>"""


_CHOOSE = """
<p>Choose your password: at least {shortest} characters, at most {longest}. A phrase of several
words is good; common passwords are refused.</p>
<p><label>New password<br><input name="password" type="password" required minlength="{shortest}"
 maxlength="{longest}" autocomplete="new-password"></label></p>
<p><label>New password again<br><input name="password_again" type="password" required
 minlength="{shortest}" maxlength="{longest}" autocomplete="new-password"></label></p>"""


def _form(shown: enrolment.Enrolment, notice: str = "") -> str:
    alert = f'<p role="alert"><strong>{html.escape(notice)}</strong></p>' if notice else ""
    fields = ""
    if shown.needs_password:
        fields = _CHOOSE.format(shortest=shown.min_password, longest=passwords.MAX_LENGTH)
    return _FORM.format(
        qr=shown.qr_svg, secret=html.escape(shown.secret), notice=alert, password=fields
    )


def _shown(platform: Platform, token: str) -> tuple[str, enrolment.Enrolment | None, int]:
    """The enrolment behind a live link, or the message and status to show instead."""
    desk = platform.desk
    with unit_of_work(platform.sessions) as session:
        try:
            link = service.open_link(session, token, now=desk.clock(), purposes=("enrol",))
            shown = enrolment.show(
                session,
                sealer=desk.sealer,
                enrolment_id=link.external_id,
                issuer=platform.settings.auth.totp_issuer,
                now=desk.clock(),
            )
        except DealchatError as error:
            return error.message, None, error.http_status
    return "", shown, 200


@router.get("/enrol/{token}", include_in_schema=False)
def show_enrolment(token: str, platform: PlatformDep) -> HTMLResponse:
    message, shown, status = _shown(platform, token)
    if shown is None:
        return page(f"<p>{html.escape(message)}</p>", status)
    return page(_form(shown))


Password = Annotated[str | None, Form(max_length=passwords.MAX_LENGTH)]


@router.post("/enrol/{token}", include_in_schema=False)
def finish_enrolment(
    token: str,
    platform: PlatformDep,
    otp: Annotated[str, Form(max_length=6)],
    password: Password = None,
    password_again: Password = None,
) -> HTMLResponse:
    if password != password_again:
        return _again(platform, token, "The two passwords differ. Type the same one twice.", 400)
    desk = platform.desk
    try:
        with unit_of_work(platform.sessions) as session:
            link = service.open_link(session, token, now=desk.clock(), purposes=("enrol",))
            done = enrolment.finish(
                session,
                sealer=desk.sealer,
                enrolment_id=link.external_id,
                code=otp,
                policy=desk.policy.lockout,
                now=desk.clock(),
                password=password,
            )
            if done:
                service.use_link(session, link, desk.clock())
    except DealchatError as error:
        if error.http_status == 400:  # a password the rules refuse: nothing was counted
            return _again(platform, token, error.message, 400)
        return page(f"<p>{html.escape(error.message)}</p>", error.http_status)
    if done:
        return page("<p>Your authenticator is enrolled. Use its codes from now on.</p>")
    return _again(platform, token, "That code did not match. Try the newest code.", 401)


def _again(platform: Platform, token: str, notice: str, status: int) -> HTMLResponse:
    message, shown, found = _shown(platform, token)
    if shown is None:
        return page(f"<p>{html.escape(message)}</p>", found)
    return page(_form(shown, notice), status)
