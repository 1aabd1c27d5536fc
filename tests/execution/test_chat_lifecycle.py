"""The order lifecycle from the client's chat with a FIX counterparty (the crafted acceptor): a
GTC limit order rests and is filled later, its limit is changed by a cancel/replace that the
client approves with both factors, another is cancelled; the client hears each step, and
`audit verify --deep` agrees with every row afterwards."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.conversations.integrity import deep_check
from dealchat.db.session import unit_of_work
from tests.conftest import Clock
from tests.execution.acceptor import CraftedAcceptor
from tests.execution.conftest import chat_texts, eventually, reload_ref
from tests.execution.test_executor_fill import confirmed
from tests.execution.test_inbound_controls import crafted_platform, lp  # noqa: F401 - fixtures
from tests.factories.chat import Chat
from tests.factories.identity import make_user


def said(platform: Platform, start: str) -> str:
    return eventually(
        lambda: next((t for t in chat_texts(platform) if t.startswith(start)), None),
        what=f"a chat message starting {start!r}",
    )


def test_rest_amend_fill_and_cancel_from_the_chat(
    crafted_platform: Platform,  # noqa: F811
    lp: CraftedAcceptor,  # noqa: F811
    clock: Clock,
) -> None:
    resting = lambda order: [lp.fill(order, exec_type="0")]  # noqa: E731 - accepted, no fill
    lp.plan(resting)
    lp.plan(resting)
    with TestClient(create_app(platform=crafted_platform)) as http:
        alice = make_user(crafted_platform)
        chat = Chat(http, clock)
        chat.link_and_log_in(alice)
        sent = confirmed(chat, alice, "buy 1m eurusd at 1.0700 gtc")
        ref = sent.split()[1]
        assert sent.startswith(f"SENT {ref} to LP"), sent
        said(crafted_platform, f"{ref} is working at LP")

        clock.advance(30)
        asked = chat.say(f"change {ref} price to 1.0720")
        assert asked[0]["link"], asked
        assert "approve it" in asked[0]["text"], asked
        approval = asked[0]["link"].split("testserver")[-1]
        shown = http.get(approval).text  # the exact changed order she approves
        assert "You approve a change" in shown
        change = f"{ref} is working at LP: amount 1,000,000 → 1,000,000, limit 1.07 → limit 1.072"
        assert change in shown
        assert "<td>Limit 1.072</td>" in shown
        assert "BUY 1,000,000 EUR vs USD SPOT limit 1.072 GTC" in shown
        assert chat.log_in(approval, alice).status_code == 200
        assert chat.text(f"change {ref} price to 1.0720").startswith(f"Change to {ref} sent")
        said(crafted_platform, f"AMENDED {ref} at LP")
        assert reload_ref(crafted_platform, ref).limit_price == Decimal("1.072")

        lp.send(lp.fill(lp.orders[0] | {44: "1.0720"}))
        assert "at 1.072 with LP" in said(crafted_platform, f"FILLED {ref}")

        clock.advance(30)
        other = confirmed(chat, alice, "sell 2m eurusd at 1.0990 gtc").split()[1]
        said(crafted_platform, f"{other} is working at LP")
        assert chat.text(f"cancel {other}").startswith(f"Cancel of {other} sent to LP")
        said(crafted_platform, f"CANCELLED {other} at LP")
    assert reload_ref(crafted_platform, ref).state == "filled"
    assert reload_ref(crafted_platform, other).state == "cancelled"
    with unit_of_work(crafted_platform.sessions) as session:
        problems = deep_check(session)
    assert problems == [], problems
