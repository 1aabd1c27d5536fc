"""Tokens to one intent. Precision over recall: whatever is uncertain becomes `clarify`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from dealchat.nlu import tables as t
from dealchat.nlu.commands import command_intent
from dealchat.nlu.lexer import Amount, Kind, Tok, normalise, tokenize
from dealchat.nlu.model import AssetClass, Explained, Intent, IntentKind, OrderType, Side

EXAMPLE = "e.g. 'buy 1m eurusd'"


class Clarify(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the parser to answer `clarify` with a reason and the missing fields."""

    def __init__(self, reason: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


@dataclass
class Reading:
    """What the tokens of one trading message say, gathered before deciding."""

    toks: list[Tok]
    by_kind: dict[Kind, list[int]] = field(default_factory=dict)
    notes: list[tuple[int, Explained]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for index, tok in enumerate(self.toks):
            self.by_kind.setdefault(tok.kind, []).append(index)

    def at(self, kind: Kind) -> list[int]:
        return self.by_kind.get(kind, [])

    def has(self, kind: Kind) -> bool:
        return kind in self.by_kind

    def note(self, index: int, name: str, value: object) -> None:
        self.notes.append((index, Explained(self.toks[index].text, name, str(value))))

    @property
    def explained(self) -> tuple[Explained, ...]:
        """What became which field, in the order the client wrote it."""
        return tuple(part for _, part in sorted(self.notes, key=lambda note: note[0]))


class Parser:
    """Chat text -> Intent. Pure: no I/O, no clock; the same text always gives the same intent."""

    def __init__(self, counterparties: frozenset[str] = t.DEFAULT_COUNTERPARTIES) -> None:
        self._lps = {code.lower(): code.upper() for code in counterparties}

    def parse(self, text: str) -> Intent:
        if len(text) > t.MAX_MESSAGE_CHARS:
            return _clarify(
                "That message is too long for me to read as one instruction. "
                f"Please send one short instruction, {EXAMPLE}."
            )
        toks = tokenize(normalise(text), self._lps)
        if not toks:
            return Intent(IntentKind.UNKNOWN)
        command = command_intent(toks)
        if command is not None:
            return command
        reading = Reading(toks)
        if not _is_trading(reading):
            return Intent(IntentKind.UNKNOWN)
        try:
            return _trading_intent(reading)
        except Clarify as clarify:
            return _clarify(clarify.reason, clarify.missing)


def _clarify(reason: str, missing: tuple[str, ...] = ()) -> Intent:
    return Intent(IntentKind.CLARIFY, reason=reason, missing=missing)


def _is_trading(r: Reading) -> bool:
    if any(r.has(k) for k in (Kind.PAIR, Kind.BAD_PAIR, Kind.ISIN, Kind.BAD_ISIN, Kind.CUR)):
        return True
    if r.has(Kind.QUOTE_WORD) or r.has(Kind.INFO_WORD):
        return True
    for index in r.at(Kind.SIDE):
        word = r.toks[index].text.lower()
        if word not in t.WEAK_SIDE_WORDS or word in t.FROM_QUOTE_WORDS or r.has(Kind.AMOUNT):
            return True
    return False


def _trading_intent(r: Reading) -> Intent:
    _check_no_doubt(r)
    instrument = _instrument(r)
    side = _side(r)
    kind = _kind(r, side)
    if instrument is None:
        return _without_instrument(r, kind, side)
    used, prices = _prices(r, instrument)
    quantity, tenor = _quantity_and_tenor(r, instrument, used)
    price = _limit_price(r, instrument, prices)
    counterparty = _counterparty(r, instrument)
    if kind is IntentKind.INFO:
        return _info(r, instrument, side)
    if kind is IntentKind.ORDER and quantity is None:
        raise Clarify(f"How much? Please add the amount, {EXAMPLE}.", ("quantity",))
    fields = _instrument_fields(r, instrument, side, quantity)
    if instrument.is_fx:
        fields["tenor"] = tenor or "SPOT"
    elif tenor is not None:
        raise Clarify("A bond order has no tenor. Please send the ISIN, amount and price only.")
    if kind is IntentKind.ORDER:
        fields["order_type"] = OrderType.LIMIT if price is not None else OrderType.MARKET
        _check_market_vs_limit(r, price)
    return Intent(
        kind,
        quantity=quantity,
        limit_price=price,
        counterparty=counterparty,
        explanation=r.explained,
        **fields,  # type: ignore[arg-type]
    )


def _check_no_doubt(r: Reading) -> None:
    for index in r.at(Kind.NEGATION):
        word = r.toks[index].text
        raise Clarify(
            f"I can't act on that: the message says '{word}'. "
            f"To trade, send the order plainly, {EXAMPLE}."
        )
    for index in r.at(Kind.UNSUPPORTED):
        word = r.toks[index].text
        raise Clarify(
            f"I can only take market and limit orders in chat, not '{word}' instructions. "
            "Please call your dealer for those."
        )
    if r.has(Kind.HEDGE):
        raise Clarify(
            "That sounds like a condition or a question, not an instruction. "
            f"To trade, send {EXAMPLE}."
        )
    for index in r.at(Kind.BAD_NUMBER):
        raise Clarify(str(r.toks[index].value))
    for kind in (Kind.BAD_PAIR,):
        for index in r.at(kind):
            raise Clarify(f"{r.toks[index].value} Please check the currency pair.", ("pair",))
    for index in r.at(Kind.BAD_ISIN):
        code = r.toks[index].value
        raise Clarify(f"'{code}' is not a valid ISIN (its check digit is wrong). Please check it.")


@dataclass(frozen=True, slots=True)
class Instrument:
    index: int
    pair: tuple[str, str] | None = None  # as written
    isin: str | None = None

    @property
    def is_fx(self) -> bool:
        return self.pair is not None


def _instrument(r: Reading) -> Instrument | None:
    pairs, isins = r.at(Kind.PAIR), r.at(Kind.ISIN)
    if len(pairs) + len(isins) > 1:
        raise Clarify(
            "I see more than one instrument. Please send one order or quote per message.",
        )
    if pairs:
        value = r.toks[pairs[0]].value
        assert isinstance(value, tuple)
        return Instrument(pairs[0], pair=value)
    if isins:
        return Instrument(isins[0], isin=str(r.toks[isins[0]].value))
    return None


def _side(r: Reading) -> Side | None:
    sides = {str(r.toks[i].value) for i in r.at(Kind.SIDE)}
    if len(sides) > 1:
        raise Clarify("I see both a buy and a sell. Please send one order per message.")
    return Side(sides.pop()) if sides else None


def _kind(r: Reading, side: Side | None) -> IntentKind:
    if r.has(Kind.INFO_WORD):
        return IntentKind.INFO
    quote_words = {r.toks[i].text.lower() for i in r.at(Kind.QUOTE_WORD)}
    if quote_words and not (side is not None and quote_words <= t.MARKET_WORDS):
        return IntentKind.QUOTE
    return IntentKind.ORDER if side is not None else IntentKind.QUOTE


def _without_instrument(r: Reading, kind: IntentKind, side: Side | None) -> Intent:
    """`mine`, `yours 5m`: take the last quote. Anything else needs an instrument."""
    words = {r.toks[i].text.lower() for i in r.at(Kind.SIDE)}
    others = set(r.by_kind) - {Kind.SIDE, Kind.AMOUNT, Kind.FILLER, Kind.WORD, Kind.QMARK}
    if kind is IntentKind.ORDER and words <= t.FROM_QUOTE_WORDS and not others:
        assert side is not None
        quantity = None
        if r.has(Kind.AMOUNT):
            quantity = _take_quantity(r, _one(r, Kind.AMOUNT, "amount"))
        for index in r.at(Kind.SIDE):
            r.note(index, "side", side.value)
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
            f"{code} against which currency? Please name the pair, e.g. 'EUR/USD'.", ("pair",)
        )
    missing = (
        ("instrument",)
        if r.has(Kind.AMOUNT) or kind is not IntentKind.ORDER
        else (
            "instrument",
            "quantity",
        )
    )
    raise Clarify(
        "Which currency pair or bond? Please name a pair like EURUSD or a bond by its ISIN, "
        f"{EXAMPLE}.",
        missing,
    )


def _one(r: Reading, kind: Kind, what: str) -> int:
    found = r.at(kind)
    if len(found) > 1:
        texts = ", ".join(r.toks[i].text for i in found)
        raise Clarify(f"I see more than one {what} ({texts}). Please send one per order.")
    return found[0]


def _take_quantity(r: Reading, index: int) -> Decimal:
    amount = r.toks[index].value
    assert isinstance(amount, Amount)
    text = r.toks[index].text
    if amount.negative or amount.value <= 0:
        raise Clarify("The amount must be more than zero.", ("quantity",))
    if not amount.has_unit and amount.value < 1000:
        raise Clarify(
            f"Is '{text}' meant as {text} thousand or {text} million? "
            f"Please add a unit, e.g. {text}k or {text}m.",
            ("quantity",),
        )
    if amount.value > t.MAX_QUANTITY:
        raise Clarify(f"'{text}' is more than I can take in one order. Please check the amount.")
    value = amount.value.normalize()
    r.note(index, "quantity", format(value, "f"))
    return value


def _prices(r: Reading, instrument: Instrument) -> tuple[set[int], list[int]]:
    """Indices of tokens used as prices: after at/@/limit/lmt, 32nds, a bare price after an ISIN."""
    used: set[int] = set()
    found: list[int] = []
    toks = r.toks
    for index in r.at(Kind.LIMIT_WORD):
        nxt = index + 1
        word = toks[index].text.lower()
        if nxt < len(toks) and toks[nxt].kind in (Kind.AMOUNT, Kind.PRICE):
            if word == "at" and _looks_like_hour(toks[nxt].text):
                raise Clarify(
                    f"Is 'at {toks[nxt].text}' a price or a time? "
                    f"For a price write it with decimals, e.g. 'at {toks[nxt].text}.00'."
                )
            used.add(nxt)
            found.append(nxt)
        elif word != "at":
            raise Clarify(f"At what price? Please add it after '{word}'.", ("limit_price",))
    found.extend(i for i in r.at(Kind.PRICE) if i not in used)
    used.update(r.at(Kind.PRICE))
    after = instrument.index + 1
    if instrument.isin and after < len(toks) and toks[after].kind is Kind.AMOUNT:
        amount = toks[after].value
        if isinstance(amount, Amount) and not amount.has_unit and after not in used:
            used.add(after)
            found.append(after)
    return used, found


def _looks_like_hour(text: str) -> bool:
    return text.isdigit() and int(text) <= 24


def _limit_price(r: Reading, instrument: Instrument, found: list[int]) -> Decimal | None:
    if not found:
        return None
    if len(set(found)) > 1:
        raise Clarify("I see more than one price. Please send one limit price per order.")
    tok = r.toks[found[0]]
    if tok.kind is Kind.PRICE:
        if instrument.is_fx:
            raise Clarify(f"'{tok.text}' is a bond price in 32nds, but this is an FX order.")
        price = tok.value
        assert isinstance(price, Decimal)
        if price <= 0:
            raise Clarify(f"'{tok.text}' is not a price I can use: it must be more than zero.")
    else:
        price = _plain_price(tok)
    r.note(found[0], "limit_price", format(price, "f"))
    return price


def _plain_price(tok: Tok) -> Decimal:
    amount = tok.value
    assert isinstance(amount, Amount)
    if amount.has_unit or amount.negative or amount.value <= 0:
        raise Clarify(f"'{tok.text}' is not a price I can use. Please write it like 'at 1.0850'.")
    if "," in tok.text and len(tok.text.rsplit(",", 1)[1]) == 3:
        raise Clarify(
            f"Is '{tok.text}' a decimal comma or a thousands separator? Please use a dot."
        )
    return amount.value


def _quantity_and_tenor(
    r: Reading, instrument: Instrument, used: set[int]
) -> tuple[Decimal | None, str | None]:
    amounts = [i for i in r.at(Kind.AMOUNT) if i not in used]
    quantity = _take_quantity(r, amounts[0]) if amounts else None
    tenors: list[tuple[int, str]] = []
    for index in amounts[1:]:
        amount = r.toks[index].value
        assert isinstance(amount, Amount)
        if amount.tenor is None or index < instrument.index:
            texts = ", ".join(r.toks[i].text for i in amounts)
            raise Clarify(
                f"I see more than one amount ({texts}). Please send one amount per order."
            )
        tenors.append((index, amount.tenor))
    for index in r.at(Kind.TENOR):
        tenors.append((index, str(r.toks[index].value)))
    for index in r.at(Kind.DATE):
        tenors.append((index, str(r.toks[index].value)))
    return quantity, _one_tenor(r, instrument, tenors)


def _one_tenor(r: Reading, instrument: Instrument, tenors: list[tuple[int, str]]) -> str | None:
    if not tenors:
        return None
    if len(tenors) > 1:
        texts = ", ".join(r.toks[i].text for i, _ in tenors)
        raise Clarify(f"I see more than one tenor ({texts}). Please send one per order.")
    index, tenor = tenors[0]
    tok = r.toks[index]
    if index < instrument.index and tok.text.lower() not in t.TENOR_WORDS:
        raise Clarify(f"Please put the tenor after the pair, e.g. 'buy 1m eurusd {tenor}'.")
    r.note(index, "tenor", tenor)
    return tenor


def _counterparty(r: Reading, instrument: Instrument) -> str | None:
    found = r.at(Kind.LP)
    if not found:
        return None
    codes = {str(r.toks[i].value) for i in found}
    if len(codes) > 1:
        raise Clarify(f"I see more than one counterparty ({', '.join(sorted(codes))}). Pick one.")
    if found[0] < instrument.index:
        raise Clarify(
            "Please name the counterparty after the instrument, e.g. 'buy 1m eurusd 360T'."
        )
    code = codes.pop()
    r.note(found[0], "counterparty", code)
    return code


def _info(r: Reading, instrument: Instrument, side: Side | None) -> Intent:
    if side is not None:
        raise Clarify("Do you want information or a trade? Please ask for one of them.")
    fields = _instrument_fields(r, instrument, None, None)
    fields.pop("dealt_currency", None)
    return Intent(IntentKind.INFO, explanation=r.explained, **fields)  # type: ignore[arg-type]


def _instrument_fields(
    r: Reading, instrument: Instrument, side: Side | None, quantity: Decimal | None
) -> dict[str, object]:
    if instrument.isin is not None:
        if r.has(Kind.CUR):
            raise Clarify("A bond is named by its ISIN alone; please leave out the currency.")
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
    dealt = _dealt_currency(r, written, quantity)
    return {"asset_class": AssetClass.FX, "pair": pair, "side": side, "dealt_currency": dealt}


def _note_side(r: Reading, side: Side | None) -> None:
    if side is not None:
        for index in r.at(Kind.SIDE):
            r.note(index, "side", side.value)


def _dealt_currency(r: Reading, written: tuple[str, str], quantity: Decimal | None) -> str:
    """The currency written next to the amount, else the first currency the client wrote."""
    found = r.at(Kind.CUR)
    if not found:
        return written[0]
    if len(found) > 1:
        raise Clarify("I see more currencies than the pair. Which currency is the amount in?")
    index = found[0]
    code = str(r.toks[index].value)
    if code not in written:
        raise Clarify(f"The amount is in {code}, but the pair is {written[0]}/{written[1]}.")
    if quantity is None or not _next_to_amount(r, index):
        raise Clarify(
            f"Is the amount in {code}? Please write it next to the amount, e.g. '1m {code}'."
        )
    r.note(index, "dealt_currency", code)
    return code


def _next_to_amount(r: Reading, index: int) -> bool:
    for step in (-1, 1):
        j = index + step
        while 0 <= j < len(r.toks) and r.toks[j].kind is Kind.FILLER:
            j += step
        if 0 <= j < len(r.toks) and r.toks[j].kind is Kind.AMOUNT:
            return True
    return False


def _check_market_vs_limit(r: Reading, price: Decimal | None) -> None:
    said_market = r.has(Kind.MARKET_WORD) or any(
        r.toks[i].text.lower() in t.MARKET_WORDS for i in r.at(Kind.QUOTE_WORD)
    )
    if price is not None and said_market:
        raise Clarify("Is this a market order or a limit order? Please say one of them.")


_RANK: dict[str, tuple[int, str]] = {
    **{code: (n, code) for n, code in enumerate(t.PRIORITY_HEAD)},
    **{code: (len(t.PRIORITY_HEAD) + 1 + n, code) for n, code in enumerate(t.PRIORITY_TAIL)},
}
_OTHERS_RANK = len(t.PRIORITY_HEAD)


def rank(code: str) -> tuple[int, str]:
    """Sort key for market convention: EUR first, JPY last, unlisted right after USD, A-Z."""
    return _RANK.get(code, (_OTHERS_RANK, code))
