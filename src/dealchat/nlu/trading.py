"""A trading message (quote, order, info) to its intent, under the closed-world rule: an order only
when every word is accounted for (NLU.md v2). Precision over recall: whatever is uncertain is
`clarify`, with the reason and, where there is one, the word at fault."""

from __future__ import annotations

from dealchat.nlu import fields as f
from dealchat.nlu import tables as t
from dealchat.nlu.lexer import Kind
from dealchat.nlu.model import AssetClass, Intent, IntentKind, OrderType, Product, Side
from dealchat.nlu.reading import EXAMPLE, Clarify, Reading, unknown_word


def is_trading(r: Reading) -> bool:
    """Whether the message is about a trade at all; chit-chat stays `unknown`."""
    if any(r.has(k) for k in (Kind.PAIR, Kind.BAD_PAIR, Kind.ISIN, Kind.BAD_ISIN)):
        return True
    if r.has(Kind.QUOTE_WORD) or r.has(Kind.INFO_WORD):
        return True
    if r.has(Kind.CUR) and (r.has(Kind.AMOUNT) or r.has(Kind.SIDE) or r.has(Kind.SIGN)):
        return True
    for index in r.at(Kind.SIDE):
        word = r.toks[index].word
        if word not in t.WEAK_SIDE_WORDS or word in t.FROM_QUOTE_WORDS or r.has(Kind.AMOUNT):
            return True
    return False


def check_no_doubt(r: Reading, *, amend: bool = False) -> None:
    """Negation, conditions, corrections, doubt, relative dates, bad numbers and unknown words:
    never an order. A question without a side word may still be a price request."""
    if not r.by_kind.keys() & _DOUBTS:
        return
    order = amend or r.has(Kind.SIDE)
    _first(
        r,
        Kind.NEGATION,
        "negation",
        "I can't act on that: the message says '{w}'. "
        f"To trade, send the order plainly, {EXAMPLE}.",
    )
    _first(
        r,
        Kind.CONDITION,
        "condition",
        "That sounds like a condition ('{w}'), not an "
        f"instruction: I can't take conditional orders in chat. To trade now, send {EXAMPLE}.",
    )
    _first(
        r,
        Kind.CORRECTION,
        "correction",
        "The message corrects itself ('{w}'). Please send "
        "the whole order again, just as you want it.",
    )
    _first(
        r,
        Kind.HEDGE,
        "hedge",
        f"That sounds like a maybe ('{{w}}'), not an instruction. To trade, send {EXAMPLE}.",
    )
    if order and not amend:
        _first(
            r,
            Kind.QUESTION,
            "whose_side",
            "Is that you asking us to trade ('{w}'), or you "
            "trading? Please say it plainly: 'I buy 1m eurusd' or 'I sell 1m eurusd'.",
        )
        _first(
            r,
            Kind.QMARK,
            "question",
            f"Is this an order? Please send it without the question mark, {EXAMPLE}.",
        )
        _first(
            r,
            Kind.AMEND,
            "correction",
            "The message changes itself ('{w}'). Please send "
            "the whole order again, just as you want it.",
        )
    _first(
        r,
        Kind.RELATIVE,
        "relative_date",
        "I can't take a relative date ('{w}') in chat. "
        "Please give a tenor like 1M or a date like 15dec.",
    )
    _first(
        r,
        Kind.UNSUPPORTED,
        "unsupported",
        "I can only take market, limit and stop orders "
        "in chat, not '{w}' instructions. Please call your dealer for those.",
    )
    for index in r.at(Kind.BAD_NUMBER):
        raise Clarify(str(r.toks[index].value), code="number", word=r.toks[index].text)
    for index in r.at(Kind.BAD_PAIR):
        raise Clarify(
            f"{r.toks[index].value} Please check the currency pair.",
            ("pair",),
            code="pair",
            word=r.toks[index].text,
        )
    for index in r.at(Kind.BAD_ISIN):
        code = r.toks[index].value
        raise Clarify(
            f"'{code}' is not a valid ISIN (its check digit is wrong). Please check it.",
            code="isin",
        )
    for index in r.at(Kind.WORD):
        raise unknown_word(r.toks[index].text, order=order)


_DOUBTS = frozenset(
    {
        Kind.NEGATION,
        Kind.CONDITION,
        Kind.CORRECTION,
        Kind.HEDGE,
        Kind.QUESTION,
        Kind.QMARK,
        Kind.AMEND,
        Kind.RELATIVE,
        Kind.UNSUPPORTED,
        Kind.BAD_NUMBER,
        Kind.BAD_PAIR,
        Kind.BAD_ISIN,
        Kind.WORD,
    }
)


def _first(r: Reading, kind: Kind, code: str, reason: str) -> None:
    for index in r.at(kind):
        word = r.toks[index].text
        raise Clarify(reason.replace("{w}", word), code=code, word=word)


def trading_intent(r: Reading) -> Intent:
    check_no_doubt(r)
    instrument = _instrument(r)
    side = _side(r)
    kind = _kind(r, side)
    if instrument is None:
        return _without_instrument(r, kind, side)
    if kind is IntentKind.INFO:
        return _info(r, instrument, side)
    prices = f.read_prices(r, instrument, order=kind is IntentKind.ORDER)
    tif, expire = f.time_in_force(r)
    quantity, quantity_at, tenors = f.quantity_and_tenors(r, instrument)
    legs = f.legs(r, instrument, tenors)
    counterparty = f.counterparty(r, instrument)
    if kind is IntentKind.ORDER and quantity is None:
        raise Clarify(f"How much? Please add the amount, {EXAMPLE}.", ("quantity",), code="amount")
    fields = _instrument_fields(r, instrument, side, quantity_at)
    order_type = _order_type(r, kind, prices, tif, legs.product)
    account_for_the_rest(r, kind, _written_side(r))
    return Intent(
        kind,
        quantity=quantity,
        tenor=legs.tenor,
        near_tenor=legs.near,
        far_tenor=legs.far,
        product=legs.product,
        limit_price=prices.limit,
        stop_price=prices.stop,
        order_type=order_type,
        time_in_force=tif,
        expire_date=expire,
        counterparty=counterparty,
        explanation=r.explained,
        **fields,  # type: ignore[arg-type]
    )


def _instrument(r: Reading) -> f.Instrument | None:
    pairs, isins = r.at(Kind.PAIR), r.at(Kind.ISIN)
    if len(pairs) + len(isins) > 1:
        raise Clarify(
            "I see more than one instrument. Please send one order or quote per message.",
            code="instrument",
        )
    if pairs:
        value = r.toks[pairs[0]].value
        assert isinstance(value, tuple)
        return f.Instrument(pairs[0], pair=value)
    if isins:
        return f.Instrument(isins[0], isin=str(r.toks[isins[0]].value))
    return None


def _side(r: Reading) -> Side | None:
    sides = {str(r.toks[i].value) for i in r.at(Kind.SIDE)}
    if len(sides) > 1:
        raise Clarify(
            "I see both a buy and a sell. Please send one order per message.", code="side"
        )
    return Side(sides.pop()) if sides else None


def _written_side(r: Reading) -> Side | None:
    """The side as the client wrote it, before the pair is put in market convention."""
    sides = {str(r.toks[i].value) for i in r.at(Kind.SIDE)}
    return Side(sides.pop()) if len(sides) == 1 else None


def _kind(r: Reading, side: Side | None) -> IntentKind:
    if r.has(Kind.INFO_WORD):
        return IntentKind.INFO
    quote_words = r.words(Kind.QUOTE_WORD)
    if quote_words and not (side is not None and quote_words <= t.MARKET_WORDS):
        return IntentKind.QUOTE
    return IntentKind.ORDER if side is not None else IntentKind.QUOTE


def _without_instrument(r: Reading, kind: IntentKind, side: Side | None) -> Intent:
    """`mine`, `yours 5m`: take the last quote. Anything else needs an instrument."""
    words = r.words(Kind.SIDE)
    others = set(r.by_kind) - {Kind.SIDE, Kind.AMOUNT, Kind.FILLER, Kind.POLITE}
    if kind is IntentKind.ORDER and words <= t.FROM_QUOTE_WORDS and not others:
        assert side is not None
        amounts = r.at(Kind.AMOUNT)
        if len(amounts) > 1:
            raise Clarify("I see more than one amount. Please send one.", code="amount")
        quantity = f.take_quantity(r, amounts[0]) if amounts else None
        for index in r.at(Kind.SIDE):
            r.note(index, "side", side.value)
        account_for_the_rest(r, kind, side)
        return Intent(
            IntentKind.ORDER,
            side=side,
            quantity=quantity,
            from_quote=True,
            explanation=r.explained,
        )
    if r.has(Kind.CUR):
        code = r.toks[r.at(Kind.CUR)[0]].value
        raise Clarify(
            f"{code} against which currency? Please name the pair, e.g. 'EUR/USD'.",
            ("pair",),
            code="pair",
        )
    needs_amount = kind is IntentKind.ORDER and not r.has(Kind.AMOUNT)
    raise Clarify(
        "Which currency pair or bond? Please name a pair like EURUSD or a bond by its ISIN, "
        f"{EXAMPLE}.",
        ("instrument", "quantity") if needs_amount else ("instrument",),
        code="instrument",
    )


def _info(r: Reading, instrument: f.Instrument, side: Side | None) -> Intent:
    if side is not None:
        raise Clarify(
            "Do you want information or a trade? Please ask for one of them.", code="info"
        )
    fields = _instrument_fields(r, instrument, None, None)
    fields.pop("dealt_currency", None)
    for index in r.at(Kind.INFO_WORD):
        r.note(index, "intent", "info")
    account_for_the_rest(r, IntentKind.INFO, None)
    return Intent(IntentKind.INFO, explanation=r.explained, **fields)  # type: ignore[arg-type]


def _instrument_fields(
    r: Reading, instrument: f.Instrument, side: Side | None, quantity_at: int | None
) -> dict[str, object]:
    if instrument.isin is not None:
        if r.has(Kind.CUR) or r.has(Kind.SIGN):
            raise Clarify(
                "A bond is named by its ISIN alone; please leave out the currency.",
                code="currency",
            )
        r.note(instrument.index, "isin", instrument.isin)
        _note_side(r, side)
        return {"asset_class": AssetClass.BOND, "isin": instrument.isin, "side": side}
    assert instrument.pair is not None
    written = instrument.pair
    base, quote = sorted(written, key=rank)
    if side is not None and written[0] != base:
        side = Side.SELL if side is Side.BUY else Side.BUY
    pair = f"{base}/{quote}"
    r.note(instrument.index, "pair", pair)
    _note_side(r, side)
    dealt = f.dealt_currency(r, written, quantity_at)
    return {"asset_class": AssetClass.FX, "pair": pair, "side": side, "dealt_currency": dealt}


def _note_side(r: Reading, side: Side | None) -> None:
    if side is not None:
        for index in r.at(Kind.SIDE):
            r.note(index, "side", side.value)


def _order_type(
    r: Reading, kind: IntentKind, prices: f.Prices, tif: object, product: Product
) -> OrderType | None:
    said_market = r.has(Kind.MARKET_WORD) or bool(r.words(Kind.QUOTE_WORD) & t.MARKET_WORDS)
    if kind is not IntentKind.ORDER:
        if prices.stop is not None or tif is not None:
            raise Clarify(
                "A price request has no stop or time in force. To order, send e.g. "
                "'sell 2m cable stop 1.2650'.",
                code="quote",
            )
        for index in r.at(Kind.QUOTE_WORD):
            r.note(index, "intent", "quote")
        return None
    if prices.stop is not None and prices.limit is not None:
        raise Clarify(
            "I can't take stop-limit orders in chat. Please send a stop or a limit, or call "
            "your dealer.",
            code="order_type",
        )
    if (prices.limit is not None or prices.stop is not None) and said_market:
        raise Clarify(
            "Is this a market order or a limit order? Please say one of them.", code="order_type"
        )
    if product is Product.SWAP and (prices.limit or prices.stop or tif):
        raise Clarify(
            "I can take swaps at market only in chat, with no price or time in force. "
            "Please call your dealer for a swap at a level.",
            code="order_type",
        )
    order_type = OrderType.MARKET
    if prices.stop is not None:
        order_type = OrderType.STOP
    elif prices.limit is not None:
        order_type = OrderType.LIMIT
    for index in [*r.at(Kind.MARKET_WORD), *r.at(Kind.QUOTE_WORD)]:
        r.note(index, "order_type", "market")
    _check_time_in_force(order_type, tif)
    return order_type


def _check_time_in_force(order_type: OrderType, tif: object) -> None:
    resting = {"DAY", "GTC", "GTD"}
    if order_type is OrderType.MARKET and str(tif) in resting:
        raise Clarify(
            f"A market order is done at once, so it can't be {tif}. Give a limit price to leave "
            "it in the market, e.g. 'buy 1m eurusd at 1.0800 gtc'.",
            code="tif",
        )
    if order_type is OrderType.STOP and str(tif) in ("IOC", "FOK"):
        raise Clarify(f"A stop order can't be {tif}. Please call your dealer.", code="tif")


def account_for_the_rest(r: Reading, kind: IntentKind, side: Side | None) -> None:
    """The closed-world rule: every token not yet used must be filler, or the message is
    `clarify` naming the first word that is not accounted for."""
    order = kind in (IntentKind.ORDER, IntentKind.AMEND)
    for index, tok in enumerate(r.toks):
        if index in r.used:
            continue
        if _is_filler(r, index, order=order, side=side):
            r.filler(index)
        elif tok.kind is Kind.LIMIT_WORD:
            raise Clarify(
                f"At what price? Please add it after '{tok.text}'.",
                ("limit_price",),
                code="missing_price",
            )
        elif tok.kind is Kind.PARTY:
            raise Clarify(
                f"Whose side is it ('{tok.text}')? Please say it plainly: 'I buy 1m eurusd' or "
                "'I sell 1m eurusd'.",
                code="whose_side",
                word=tok.text,
            )
        else:
            raise unknown_word(tok.text, order=order)


def _is_filler(r: Reading, index: int, *, order: bool, side: Side | None) -> bool:
    tok = r.toks[index]
    if tok.kind in (Kind.FILLER, Kind.POLITE):
        return True
    if tok.kind is Kind.JOINER:
        return tok.word in ("for", "-")
    if not order and tok.kind in (Kind.QUOTE_FILLER, Kind.QMARK, Kind.QUESTION, Kind.PARTY):
        return True
    return tok.kind is Kind.PARTY and _plain_party(r, index, side)


def _plain_party(r: Reading, index: int, side: Side | None) -> bool:
    """`buy from you`, `sell to you`: plain about whose side it is."""
    before = r.toks[index - 1].word if index > 0 else ""
    return r.toks[index].word == "you" and (
        (before == "from" and side is Side.BUY) or (before == "to" and side is Side.SELL)
    )


_RANK: dict[str, tuple[int, str]] = {
    **{code: (n, code) for n, code in enumerate(t.PRIORITY_HEAD)},
    **{code: (len(t.PRIORITY_HEAD) + 1 + n, code) for n, code in enumerate(t.PRIORITY_TAIL)},
}
_OTHERS_RANK = len(t.PRIORITY_HEAD)


def rank(code: str) -> tuple[int, str]:
    """Sort key for market convention: metals, EUR first, JPY last, unlisted after USD, A-Z."""
    return _RANK.get(code, (_OTHERS_RANK, code))
