"""End-of-day reconciliation with statements written by an independent writer (mt940-writer) and
by hand from SWIFT's field layouts (MT950 in its envelope, MT900/MT910 confirmations): an exact
match, an amount break, a missing settlement, an unknown line, a late confirmation, and a
re-import that changes nothing; the CLI's import and report."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import mt940_writer as w
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.execution.models import Settlement
from dealchat.orders import service as orders
from dealchat.recon import service
from dealchat.recon.models import ReconLine
from dealchat.settings import Settings
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.factories.controls import ticket
from tests.factories.identity import make_user

EUR_ACCOUNT, USD_ACCOUNT = "DE89370400440532013000", "US021000021123456789"
ACCOUNTS = {"EUR": EUR_ACCOUNT, "USD": USD_ACCOUNT}


def filled_order(platform: Platform, quantity: str = "1000000") -> tuple[str, list[Settlement]]:
    """A filled EUR/USD order (the simulated counterparty), with its two settlement legs."""
    client = make_user(platform, f"client{quantity}")
    with unit_of_work(platform.sessions) as session:
        order = ticket(session, client_id=client.id, quantity=quantity, now=platform.desk.clock())
        orders.place(session, order=order, counterparty=platform.desk.counterparty,
                     now=platform.desk.clock())  # fmt: skip
        legs = list(session.scalars(select(Settlement).where(Settlement.order_id == order.id)))
        return order.ref, legs


def leg(legs: list[Settlement], currency: str) -> Settlement:
    return next(s for s in legs if s.currency == currency)


def written_statement(
    account: str, day: dt.date, currency: str, lines: list[tuple[Decimal, str]], ref: str
) -> str:
    """An MT940 from mt940-writer: one :61: per (amount, reference)."""
    transactions = [
        w.Transaction(day, amount, w.TransactionType.foreign_exchange, reference)
        for amount, reference in lines
    ]
    total = sum((amount for amount, _ in lines), Decimal(0))
    statement = w.Statement(
        ref, w.Account(account, ""), "1/1",
        w.Balance(Decimal(0), day, currency), w.Balance(total, day, currency), transactions,
    )  # fmt: skip
    return str(statement).replace(f":25:{account} \n", f":25:{account}\n")


def imported(platform: Platform, text: str) -> service.Imported:
    with unit_of_work(platform.sessions) as session:
        return service.import_text(
            session, text=text, source="test.sta", accounts=ACCOUNTS, now=platform.desk.clock()
        )


def kinds(result: service.Imported) -> list[str]:
    return sorted(b.kind for b in result.breaks)


def test_exact_match_and_a_reimport_that_changes_nothing(platform: Platform) -> None:
    ref, legs = filled_order(platform)
    eur, usd = leg(legs, "EUR"), leg(legs, "USD")
    day = dt.date.fromisoformat(eur.value_date)
    assert eur.amount == Decimal(1000000)
    assert usd.amount < 0  # the bank pays the dollars
    text = written_statement(EUR_ACCOUNT, day, "EUR", [(eur.amount, ref)], "EURSTMT1")
    text += "\n" + written_statement(USD_ACCOUNT, day, "USD", [(usd.amount, ref)], "USDSTMT1")
    first = imported(platform, text)
    assert (first.matched, first.breaks, first.duplicates) == (2, [], [])
    again = imported(platform, text)
    assert (again.statements, again.lines, again.duplicates) == ([], 0, ["EURSTMT1", "USDSTMT1"])
    with unit_of_work(platform.sessions) as session:
        assert session.scalar(select(func.count()).select_from(ReconLine)) == 2
        found = service.report(session, day=day)
        assert len(found.matched) == 2
        assert found.breaks == []


def test_amount_break_missing_settlement_and_unknown_line(platform: Platform) -> None:
    ref, legs = filled_order(platform)
    other, other_legs = filled_order(platform, "2000000")
    eur, usd = leg(legs, "EUR"), leg(legs, "USD")
    day = dt.date.fromisoformat(eur.value_date)
    wrong = usd.amount + Decimal("150.00")  # the provider paid 150 USD short
    stray = (Decimal("25000.00"), "ORD-ZZZZZZZZ")
    usd_text = written_statement(USD_ACCOUNT, day, "USD", [(wrong, ref), stray], "USDSTMT2")
    eur_text = written_statement(EUR_ACCOUNT, day, "EUR", [(eur.amount, ref)], "EURSTMT2")
    result = imported(platform, usd_text + "\n" + eur_text)
    assert result.matched == 1  # the EUR leg of the first order
    # the second order's USD leg is not on the USD statement, nor its EUR leg on the EUR one
    assert kinds(result) == [
        "amount_mismatch", "missing_settlement", "missing_settlement", "unknown_line",
    ]  # fmt: skip
    assert {b.detail.split(" ref ")[-1].split()[0] for b in result.breaks
            if b.kind == "missing_settlement"} == {other}  # fmt: skip
    with unit_of_work(platform.sessions) as session:
        rules = sorted(session.scalars(select(Alert.rule).where(Alert.policy == "reconciliation")))
    assert rules == sorted(kinds(result))
    assert len(other_legs) == 2


def _swift(kind: str, body: str) -> str:
    """A message in its SWIFT envelope, as an account-servicing bank sends it (block 2 output)."""
    return (
        "{1:F01BANKDEFFAXXX0000000000}{2:O" + kind + "1200261209COBADEFFXXXX00000000002612091200N}"
        "{4:\n" + body.strip() + "\n-}"
    )


def test_hand_written_mt950_and_confirmations(platform: Platform) -> None:
    ref, legs = filled_order(platform)
    eur, usd = leg(legs, "EUR"), leg(legs, "USD")
    day = dt.date.fromisoformat(eur.value_date)
    yymmdd = day.strftime("%y%m%d")
    usd_amount = f"{-usd.amount:.2f}".replace(".", ",")
    mt950 = _swift(
        "950",
        f"""
:20:NOSTROUSD0001
:25:{USD_ACCOUNT}
:28C:00042/001
:60F:C{yymmdd}USD5000000,00
:61:{yymmdd}{day:%m%d}D{usd_amount}NFEX{ref}//LPSETTLE77
:62F:C{yymmdd}USD{(Decimal(5000000) + usd.amount):.2f}
""".replace(
            f"{(Decimal(5000000) + usd.amount):.2f}",
            f"{(Decimal(5000000) + usd.amount):.2f}".replace(".", ","),
        ),
    )
    mt910 = _swift(
        "910",
        f"""
:20:CRED0001
:21:{ref}
:25:{EUR_ACCOUNT}
:32A:{yymmdd}EUR1000000,00
:72:/BNF/FX SETTLEMENT
""",
    )
    result = imported(platform, mt950 + "\n" + mt910)
    assert (result.matched, kinds(result)) == (2, [])
    # a debit confirmation for the same day that arrives two days after the value date
    late = _swift(
        "900",
        f"""
:20:DEBT0002
:21:ORD-LATECONF
:25:{USD_ACCOUNT}
:32A:{yymmdd}USD10,00
""",
    )
    with unit_of_work(platform.sessions) as session:
        result = service.import_text(
            session, text=late, source="late.fin", accounts=ACCOUNTS,
            now=dt.datetime.combine(day + dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC),
        )  # fmt: skip
    assert kinds(result) == ["unknown_line"]
    assert result.breaks[0].detail.startswith("-10.00 USD")


def test_a_late_confirmation_of_a_booked_settlement(platform: Platform) -> None:
    ref, legs = filled_order(platform)
    usd = leg(legs, "USD")
    day = dt.date.fromisoformat(usd.value_date)
    body = f":20:DEBT0003\n:21:{ref}\n:25:{USD_ACCOUNT}\n:32A:{day:%y%m%d}USD" + (
        f"{-usd.amount:.2f}".replace(".", ",")
    )
    with unit_of_work(platform.sessions) as session:
        result = service.import_text(
            session, text=_swift("900", body), source="late.fin", accounts=ACCOUNTS,
            now=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC),
        )  # fmt: skip
    assert (result.matched, kinds(result)) == (1, ["late_confirmation"])


def test_the_cli_imports_and_reports(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("DEALCHAT_RECON__ACCOUNTS", json.dumps(ACCOUNTS))
    ref, legs = filled_order(platform)
    eur = leg(legs, "EUR")
    day = dt.date.fromisoformat(eur.value_date)
    path = tmp_path / "eur.sta"
    path.write_text(written_statement(EUR_ACCOUNT, day, "EUR", [(eur.amount, ref)], "CLI1"))
    runner = CliRunner()
    first = runner.invoke(app, ["recon", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "1 new messages, 1 lines, 1 matched, 0 breaks" in first.output  # USD: its own account
    again = runner.invoke(app, ["recon", "import", str(path)])
    assert "CLI1: imported before, unchanged" in again.output
    shown = runner.invoke(app, ["recon", "report", "--date", day.isoformat(), "--json"])
    document = json.loads(shown.output)
    assert [m["reference"] for m in document["matched"]] == [ref]
    bad = tmp_path / "bad.sta"
    bad.write_text("not a statement")
    refused = runner.invoke(app, ["recon", "import", str(bad)])
    assert refused.exit_code == 2
    assert "nothing was imported" in refused.output


def test_the_console_page_lists_matches_and_breaks(platform: Platform, clock: Clock) -> None:
    ref, legs = filled_order(platform)
    eur = leg(legs, "EUR")
    day = dt.date.fromisoformat(eur.value_date)
    lines = [(eur.amount, ref), (Decimal(7), "ORD-STRAY123")]
    imported(platform, written_statement(EUR_ACCOUNT, day, "EUR", lines, "P1"))
    dana = make_user(platform, "dana", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="compliance", username="dana")
    with TestClient(create_app(platform=platform), base_url="https://testserver") as browser:
        page = browser.get("/console/login")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        form = {"username": "dana", "password": dana.password, "csrf_token": token.group(1),
                "otp": dana.code(clock.now.timestamp())}  # fmt: skip
        assert browser.post("/console/login", data=form).status_code in (200, 303)
        shown = browser.get(f"/console/recon?date={day.isoformat()}")
        assert shown.status_code == 200, shown.text
        assert ref in shown.text
        assert "unknown_line" in shown.text
        assert browser.get("/console/recon?date=2026-13-45").status_code == 400
        assert browser.get("/console/recon?date=yesterday").status_code == 422
