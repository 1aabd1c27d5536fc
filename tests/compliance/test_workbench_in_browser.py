"""The compliance workbench as officers use it, in real headless Chromium (Debian's, driven by
Playwright) against a real server on SQLite and PostgreSQL: carol searches all of alice's
messages of the last hour holding a restricted phrase, opens the hit in its context, opens a
review and escalates it to a case, proposes a breach; dave, a second reviewer, closes it as a
breach; the case's PDF, downloaded from the case page, reads back the Chinese sentence exactly
and its PAdES signature validates with pyHanko against the bank's evidence certificate."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.records.pdf_fonts import NOTO_CJK
from dealchat.records.pdf_signing import verify_pdf
from dealchat.surveillance.review_models import Review
from tests.channels.webchat.test_page_in_browser import browser  # noqa: F401 - the fixture
from tests.compliance.conftest import OFF_CHANNEL
from tests.compliance.test_reviews import OFFICER
from tests.compliance.test_search import staff_with
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user
from tests.factories.live import served

WAIT = 10_000  # ms: a generous bound for a loaded machine


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    if not NOTO_CJK.is_file():
        message = f"{NOTO_CJK} is missing (make fonts installs Debian's fonts-noto-cjk)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with served(database_url, tmp_path / "var") as found:
        yield found


def _officer_page(browser: Browser, url: str, user: TestUser) -> Page:  # noqa: F811
    page = browser.new_context(base_url=url, accept_downloads=True).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.password)
    page.fill("input[name=otp]", user.code(time.time()))
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Compliance")).to_be_visible()
    return page


def test_an_officer_finds_a_breach_a_second_closes_it_and_the_case_pdf_is_signed_evidence(
    live: tuple[str, Platform],
    browser: Browser,  # noqa: F811
) -> None:
    url, platform = live
    alice = make_user(platform, "alice")
    with httpx.Client(base_url=url) as http:  # alice in her web chat, linked to her account
        chat = Chat(http, Clock(), conversation="conv-wb-alice", sender="sender-wb-alice")
        chat.link_and_log_in(alice)
        chat.say("morning, can you quote cable")
        chat.say(OFF_CHANNEL)
        chat.say("thanks")
        bob = make_user(platform, "bob")
        other = Chat(http, Clock(), conversation="conv-wb-bob", sender="sender-wb-bob")
        other.link_and_log_in(bob)
        other.say(OFF_CHANNEL)  # bob says it too: the client filter keeps him out
    carol = staff_with(platform, "carol", OFFICER)
    dave = staff_with(platform, "dave", OFFICER)

    page = _officer_page(browser, url, carol)
    page.get_by_role("link", name="Compliance").click()  # home, then each task one click
    page.get_by_role("link", name="Search conversations").click()
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    page.fill("input[name=client]", "alice")
    page.fill("input[name=from]", an_hour_ago.isoformat(timespec="seconds"))
    page.fill("input[name=q]", '"加我微信"')
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#counts")).to_contain_text("1 message(s) in 1 conversation(s) matched")
    hit = page.locator("article.hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("加我微信")
    expect(hit.locator("li.before")).to_contain_text(["morning, can you quote cable"])
    expect(page.locator("a.export")).to_have_count(4)  # the result set as evidence

    hit.get_by_role("link", name="review in context").click()  # the hit in its context
    expect(page.locator("ol.context mark")).to_have_text(OFF_CHANNEL)
    expect(page.locator("ol.context")).to_contain_text("thanks")
    page.fill("input[name=summary]", "alice asks to move to WeChat")
    page.get_by_role("button", name="Open review").click()
    expect(page.locator("h1")).to_contain_text("alice asks to move to WeChat")
    case_url = page.url
    page.get_by_role("button", name="Claim").click()
    page.fill("input[name=to]", "MLRO")
    page.get_by_role("button", name="Escalate to a case").click()
    expect(page.locator("#state")).to_contain_text("escalated to MLRO")
    page.select_option("select[name=disposition]", "breach")
    page.locator("form[action$='/close'] input[name=text]").fill("off-channel request")
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#state")).to_contain_text("closing")

    second = _officer_page(browser, url, dave)  # four eyes: another reviewer closes it
    second.goto(case_url)
    second.select_option("select[name=disposition]", "breach")
    second.locator("form[action$='/close'] input[name=text]").fill("confirmed")
    second.get_by_role("button", name="Close").click()
    expect(second.locator("#state")).to_contain_text("disposition breach")

    with second.expect_download() as downloading:
        second.locator("a.export", has_text="pdf").click()
    pdf = Path(downloading.value.path()).read_bytes()
    words = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert OFF_CHANNEL in words
    certificate = platform.settings.keys_dir / "evidence" / "signer.crt"
    with ThreadPoolExecutor(1) as aside:  # pyHanko runs its own event loop; Playwright's is here
        checked = aside.submit(verify_pdf, pdf, cert_file=certificate).result()
    assert (checked.intact, checked.valid, checked.trusted, checked.covers_whole_file) == (
        True,
        True,
        True,
        True,
    ), checked

    with unit_of_work(platform.sessions) as session:
        review = session.scalars(select(Review)).one()
        assert (review.state, review.disposition) == ("closed", "breach")
        assert (review.opened_by, review.proposed_by, review.closed_by) == (
            carol.id,
            carol.id,
            dave.id,
        )
        exported = session.scalars(
            select(AuditEntry).where(AuditEntry.event == "report:exported")
        ).one()
        assert exported.actor == f"user:{dave.id}"
        searched = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.event == "search:run")
        ).all()
        assert searched == [f"user:{carol.id}"]  # the search, in the audit log
    second.goto("/console/compliance")  # the export, listed for the officers
    expect(second.locator("#exports")).to_contain_text("pdf")
    expect(second.locator("#exports")).to_contain_text(f"case {review.ref}")
