"""`amend` (NLU.md v2): `amend ORD-42 to 2m`, `change ORD-9 price to 151.40`, `make it 5m`.

An amend names the fields that change; it never executes by itself (the flow reads the changed
ticket back for a new confirmation). It cannot change the side or the instrument: that is a new
order."""

from __future__ import annotations

from dealchat.nlu import fields as f
from dealchat.nlu import tables as t
from dealchat.nlu.commands import ONE_REF
from dealchat.nlu.lexer import Amount, Kind, Tok
from dealchat.nlu.model import Intent, IntentKind
from dealchat.nlu.reading import Clarify, Reading
from dealchat.nlu.trading import account_for_the_rest, check_no_doubt

_VALUES = frozenset(
    {Kind.AMOUNT, Kind.PRICE, Kind.TENOR, Kind.DATE, Kind.TIF, Kind.LP, Kind.MARKET_WORD}
)
_NAMES = frozenset({Kind.FIELD, Kind.QUOTE_WORD, Kind.LIMIT_WORD, Kind.STOP_WORD, Kind.FILLER})
HOW = "e.g. 'amend ORD-42 to 2m' or 'change ORD-42 price to 1.0860'"


def is_amend(r: Reading) -> bool:
    """An amend word with an order reference or a new value, and no side word (`buy 1m eurusd,
    make it 2m` is a correction, not an amend)."""
    if not r.has(Kind.AMEND) or r.has(Kind.SIDE):
        return False
    return (
        r.has(Kind.REF)
        or any(r.has(kind) for kind in _VALUES)
        or bool(r.words(Kind.QUOTE_WORD) & t.MARKET_WORDS)
    )


def amend_intent(r: Reading) -> Intent:
    check_no_doubt(r, amend=True)
    for kind in (Kind.PAIR, Kind.ISIN, Kind.CUR, Kind.SIGN, Kind.PRODUCT, Kind.SWAP_TENOR):
        for index in r.at(kind):
            raise Clarify(
                f"An amend can't change the instrument or the product ('{r.toks[index].text}'). "
                "Please cancel the ticket and send a new order.",
                code="amend_instrument",
                word=r.toks[index].text,
            )
    refs = r.at(Kind.REF)
    if len(refs) > 1:
        raise Clarify(ONE_REF, code="ref")
    for index in r.at(Kind.AMEND):
        r.note(index, "intent", "amend")
    ref = None
    if refs:
        ref = str(r.toks[refs[0]].value)
        r.note(refs[0], "order_ref", ref)
    changes = _changes(r)
    account_for_the_rest(r, IntentKind.AMEND, None)
    if not changes:
        raise Clarify(f"What should change? Please say, {HOW}.", ("changes",), code="amend")
    if "order_type" in changes and ({"limit_price", "stop_price"} & set(changes)):
        raise Clarify(
            "Is it to be a market order or at a price? Please say one of them.",
            code="order_type",
        )
    if {"limit_price", "stop_price"} <= set(changes):
        raise Clarify("I can't take stop-limit orders in chat.", code="order_type")
    return Intent(
        IntentKind.AMEND, order_ref=ref, changes=tuple(changes.items()), explanation=r.explained
    )


def _changes(r: Reading) -> dict[str, str]:
    changes: dict[str, str] = {}
    tif, expire = f.time_in_force(r)
    if tif is not None:
        changes["time_in_force"] = tif.value
        if expire is not None:
            changes["expire_date"] = expire
    pending: str | None = None
    for index, tok in enumerate(r.toks):
        if index in r.used:
            continue
        named = _field_named(r, index, tok)
        if named is not None:
            pending = named
            r.note(index, "changes", named)
            continue
        if tok.kind not in _VALUES and tok.word not in t.MARKET_WORDS:
            continue
        field, value = _value(r, index, tok, pending)
        if field in changes:
            raise Clarify(
                f"I see two new values for {field.replace('_', ' ')}. Please give one.",
                code="amend",
            )
        changes[field] = value
        pending = None
    if pending is not None:
        raise Clarify(
            f"What should the new {pending.replace('_', ' ')} be? Please say, {HOW}.",
            (pending,),
            code="amend",
        )
    return changes


def _field_named(r: Reading, index: int, tok: Tok) -> str | None:
    """`price`, `size`, `tenor`, `at`, `stop`... right before a new value."""
    if tok.kind not in _NAMES:
        return None
    field = "limit_price" if tok.kind is Kind.LIMIT_WORD else t.FIELD_WORDS.get(tok.word)
    if tok.kind is Kind.STOP_WORD:
        field = "stop_price"
    nxt = index + 1
    while r.kind_at(nxt) is Kind.FILLER or r.kind_at(nxt) is Kind.LIMIT_WORD:
        nxt += 1  # `price to 1.0860`, `stop at 1.25`
    if field is None or (r.kind_at(nxt) not in _VALUES):
        return None
    return field


def _value(r: Reading, index: int, tok: Tok, pending: str | None) -> tuple[str, str]:
    if tok.kind is Kind.TIF:
        raise Clarify("I see more than one time in force. Please give one.", code="tif")
    if tok.kind is Kind.MARKET_WORD or tok.word in t.MARKET_WORDS:
        r.note(index, "order_type", "market")
        return "order_type", "market"
    if tok.kind is Kind.LP:
        r.note(index, "counterparty", tok.value)
        if r.kind_at(index - 1) is Kind.VIA:
            r.note(index - 1, "counterparty", tok.value)
        return "counterparty", str(tok.value)
    if tok.kind in (Kind.TENOR, Kind.DATE) and pending in (None, "tenor"):
        value = str(tok.value) if tok.kind is Kind.TENOR else f.a_date(r, index, value_date=True)
        r.note(index, "tenor", value)
        return "tenor", value
    if tok.kind is Kind.PRICE and pending in (None, "limit_price", "stop_price"):
        price = tok.value
        r.note(index, pending or "limit_price", price)
        return pending or "limit_price", str(price)
    if tok.kind is Kind.AMOUNT:
        return _amount(r, index, tok, pending)
    raise Clarify(
        f"'{tok.text}' can't be the new {str(pending).replace('_', ' ')}. Please say, {HOW}.",
        code="amend",
        word=tok.text,
    )


def _amount(r: Reading, index: int, tok: Tok, pending: str | None) -> tuple[str, str]:
    amount = tok.value
    assert isinstance(amount, Amount)
    if pending in ("limit_price", "stop_price") or (pending is None and amount.plain_decimal):
        name = pending or "limit_price"
        price = f.plain_price(tok.text, amount)
        r.note(index, name, format(price, "f"))
        return name, format(price, "f")
    if pending == "tenor":
        if amount.tenor is None:
            raise Clarify(f"'{tok.text}' is not a tenor. Please say, e.g. '3m'.", code="tenor")
        r.note(index, "tenor", amount.tenor)
        return "tenor", amount.tenor
    if pending == "quantity" or amount.has_unit or amount.value >= 1000:
        return "quantity", format(f.take_quantity(r, index), "f")
    raise Clarify(
        f"Is '{tok.text}' a price or an amount? Please say 'price {tok.text}' or '{tok.text}k'.",
        code="amend",
        word=tok.text,
    )
