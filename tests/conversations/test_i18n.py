"""Every reply the chat flow can send has its Chinese: a new reply without one fails here."""

from __future__ import annotations

import re
import string

import pytest

from dealchat.conversations import amend, i18n, pretrade, replies, rfq
from dealchat.nlu import Intent, IntentKind, parse
from dealchat.orders.tickets import TICKET

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH = re.compile(r"[A-Za-z]+(?: [A-Za-z]+){2,}")
_SKIP = {"DOCUMENT_RECEIVED"}  # sent by the upload page, not in a chat turn


def _constants() -> list[tuple[str, str]]:
    found = []
    for module in (replies, amend, pretrade, rfq):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and " " in value and name not in _SKIP:
                found.append((f"{module.__name__}.{name}", value))
    return [*found, ("tickets.TICKET", TICKET)]


def _filled(template: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    values = dict.fromkeys(names, "7")
    values |= {"ref": "ORD-TEST2345"} if "ref" in names else {}
    if "what" in names:
        values["what"] = "BUY 1,000,000 EUR vs USD SPOT at market"
    if "ticket" in names:
        values["ticket"] = TICKET.format(what="SELL 2,000,000 GBP vs USD 1M limit 1.27",
                                         dates="", ref="ORD-TEST2345")  # fmt: skip
    return template.format(**values) if names else template


@pytest.mark.parametrize(("name", "template"), _constants())
def test_every_reply_template_has_its_chinese(name: str, template: str) -> None:
    english = _filled(template)
    chinese = i18n.localise([i18n.OutboundMessage(english)], "买入", Intent(IntentKind.UNKNOWN))[
        0
    ].text
    assert _CJK.search(chinese), f"{name} has no Chinese: {english}"
    assert not _ENGLISH.search(chinese.replace("dealchat audit verify-receipt", "")), chinese


def test_every_clarify_code_has_its_chinese() -> None:
    from dealchat.conversations.zh_text import CLARIFY  # noqa: PLC0415

    texts = ["buy 1m eurusd next week", "don't buy 1m eurusd", "buy 1m eurusd ndf", "amend ORD-1",
             "would you buy 1m eurusd", "buy 1m eurusd?", "buy 1m xyzusd", "buy 2m XS1234567890",
             "buy 10 eurusd", "buy eurusd", "buy 1m eurusd 4w", "buy 1m eurusd gtc",
             "sell 1m eurusd stop", "buy 1m eurusd with gs and ubs", "buy 1m eur",
             "buy 1m eurusd at mkt @ 1.08", "buy 1m eurusd for client abc",
             "sell 2m usdjpy, sorry 3m", "if eurusd 1.08 buy 1m", "maybe buy 1m eurusd",
             "buy 1m eurusd trailing stop", "buy $1m audnzd", "buy and sell 1m eurusd"]  # fmt: skip
    codes = {parse(text).code for text in texts}
    assert None not in codes
    assert codes <= set(CLARIFY), codes - set(CLARIFY)
