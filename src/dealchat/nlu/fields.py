"""The fields of a trading message, each read from its tokens and noted as used: quantity, prices,
time in force, tenors and product, counterparty, dealt currency."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dealchat.nlu import tables as t
from dealchat.nlu.dates import resolve, rough_days
from dealchat.nlu.lexer import Amount, Kind
from dealchat.nlu.model import Product, TimeInForce
from dealchat.nlu.reading import EXAMPLE, Clarify, Reading

_SHORT_DATED = frozenset({"TOD", "TOM", "SPOT"})


@dataclass(frozen=True, slots=True)
class Instrument:
    index: int
    pair: tuple[str, str] | None = None  # as written
    isin: str | None = None

    @property
    def is_fx(self) -> bool:
        return self.pair is not None


def take_quantity(r: Reading, index: int, name: str = "quantity") -> Decimal:
    amount = r.toks[index].value
    assert isinstance(amount, Amount)
    text = r.toks[index].text
    if amount.negative or amount.value <= 0:
        raise Clarify("The amount must be more than zero.", ("quantity",), code="amount")
    if not amount.has_unit and amount.value < 1000:
        raise Clarify(
            f"Is '{text}' meant as {text} thousand or {text} million? "
            f"Please add a unit, e.g. {text}k or {text}m.",
            ("quantity",),
            code="amount_unit",
            word=text,
        )
    if amount.value > t.MAX_QUANTITY:
        raise Clarify(
            f"'{text}' is more than I can take in one order. Please check the amount.",
            code="amount",
        )
    value = amount.value.normalize()
    r.note(index, name, format(value, "f"))
    return value


@dataclass(frozen=True, slots=True)
class Prices:
    limit: Decimal | None = None
    stop: Decimal | None = None


def read_prices(r: Reading, instrument: Instrument, *, order: bool) -> Prices:
    """Limit: after at/@/limit/lmt, 32nds, a bare price after an ISIN, or (in an FX order) a bare
    decimal right after the pair. Stop: after stop/sl."""
    stops = [_after_stop(r, index) for index in r.at(Kind.STOP_WORD)]
    limits: list[int] = []
    for index in r.at(Kind.LIMIT_WORD):
        if index in r.used:
            continue
        nxt = index + 1
        word = r.toks[index].word
        if r.kind_at(nxt) in (Kind.AMOUNT, Kind.PRICE) and nxt not in stops:
            if word == "at" and _looks_like_hour(r.toks[nxt].text):
                text = r.toks[nxt].text
                raise Clarify(
                    f"Is 'at {text}' a price or a time? "
                    f"For a price write it with decimals, e.g. 'at {text}.00'.",
                    code="price",
                )
            limits.append(nxt)
            r.note(index, "order_type", "limit")
        elif word != "at":
            raise Clarify(
                f"At what price? Please add it after '{r.toks[index].text}'.",
                ("limit_price",),
                code="missing_price",
            )
    limits.extend(i for i in r.at(Kind.PRICE) if i not in limits and i not in stops)
    bare = _bare_price(r, instrument, order=order)
    if bare is not None and bare not in limits and bare not in stops:
        limits.append(bare)
    return Prices(
        limit=_one_price(r, instrument, limits, "limit_price"),
        stop=_one_price(r, instrument, stops, "stop_price"),
    )


def _after_stop(r: Reading, index: int) -> int:
    nxt = index + 1
    if r.kind_at(nxt) is Kind.LIMIT_WORD and r.toks[nxt].word in ("at", "@"):
        r.note(nxt, "order_type", "stop")
        nxt += 1
    if r.kind_at(nxt) not in (Kind.AMOUNT, Kind.PRICE):
        raise Clarify(
            f"At what stop price? Please add it after '{r.toks[index].text}', "
            "e.g. 'sell 2m cable stop 1.2650'.",
            ("stop_price",),
            code="missing_price",
        )
    r.note(index, "order_type", "stop")
    return nxt


def _looks_like_hour(text: str) -> bool:
    return text.isdigit() and int(text) <= 24


def _bare_price(r: Reading, instrument: Instrument, *, order: bool) -> int | None:
    after = instrument.index + 1
    if instrument.isin is not None:
        amount = r.toks[after].value if r.kind_at(after) is Kind.AMOUNT else None
        return after if isinstance(amount, Amount) and not amount.has_unit else None
    if not order:
        return None
    if r.kind_at(after) in (Kind.TENOR, Kind.DATE) or _is_tenor_amount(r, after):
        after += 1
    amount = r.toks[after].value if r.kind_at(after) is Kind.AMOUNT else None
    if isinstance(amount, Amount) and amount.plain_decimal and r.at(Kind.AMOUNT)[0] < after:
        # the quantity came before: this is the price
        return None if amount.negative else after
    return None


def _is_tenor_amount(r: Reading, index: int) -> bool:
    """`1m` right after the pair when the quantity came before it: the tenor."""
    amount = r.toks[index].value if r.kind_at(index) is Kind.AMOUNT else None
    first = r.at(Kind.AMOUNT)[0] if r.has(Kind.AMOUNT) else index
    return isinstance(amount, Amount) and amount.tenor is not None and first < index


def _one_price(r: Reading, instrument: Instrument, found: list[int], name: str) -> Decimal | None:
    if not found:
        return None
    if len(set(found)) > 1:
        raise Clarify("I see more than one price. Please send one price per order.", code="price")
    tok = r.toks[found[0]]
    if tok.kind is Kind.PRICE:
        if instrument.is_fx:
            raise Clarify(
                f"'{tok.text}' is a bond price in 32nds, but this is an FX order.", code="price"
            )
        price = tok.value
        assert isinstance(price, Decimal)
        if price <= 0:
            raise Clarify(
                f"'{tok.text}' is not a price I can use: it must be more than zero.",
                code="price",
            )
    else:
        price = plain_price(tok.text, tok.value)
    r.note(found[0], name, format(price, "f"))
    return price


def plain_price(text: str, amount: object) -> Decimal:
    assert isinstance(amount, Amount)
    if amount.has_unit or amount.negative or amount.value <= 0:
        raise Clarify(
            f"'{text}' is not a price I can use. Please write it like 'at 1.0850'.", code="price"
        )
    if "," in text and len(text.rsplit(",", 1)[1]) == 3:
        raise Clarify(
            f"Is '{text}' a decimal comma or a thousands separator? Please use a dot.",
            code="price",
        )
    return amount.value


def time_in_force(r: Reading) -> tuple[TimeInForce | None, str | None]:
    """DAY, GTC, GTD (with the date after it), IOC or FOK; None when not given."""
    found = r.at(Kind.TIF)
    if not found:
        return None, None
    if len(found) > 1:
        raise Clarify(
            "I see more than one time in force. Please give one (GTC, GTD, DAY, IOC or FOK).",
            code="tif",
        )
    index = found[0]
    tif = TimeInForce(str(r.toks[index].value))
    r.note(index, "time_in_force", tif.value)
    if tif is not TimeInForce.GTD:
        return tif, None
    if r.kind_at(index + 1) is not Kind.DATE:
        raise Clarify(
            "Good till which date? Please add it, e.g. 'gtd 15dec'.",
            ("expire_date",),
            code="tif",
        )
    expire = a_date(r, index + 1, value_date=False)
    r.note(index + 1, "expire_date", expire)
    return tif, expire


def a_date(r: Reading, index: int, *, value_date: bool) -> str:
    """The ISO date a DATE token means (from `today` when it has no year), checked."""
    value = r.toks[index].value
    found = value if isinstance(value, dt.date) else resolve(value, r.today)  # type: ignore[arg-type]
    if isinstance(found, str):
        raise Clarify(found, code="date", word=r.toks[index].text)
    if r.today is not None and found < r.today:
        raise Clarify(
            f"{found.isoformat()} has passed. Please give a date from today on.", code="date"
        )
    if value_date and found.weekday() >= 5:
        raise Clarify(
            f"{found.isoformat()} is a {found:%A}: value dates are business days. "
            "Please pick another date.",
            code="date",
        )
    return found.isoformat()


def quantity_and_tenors(
    r: Reading, instrument: Instrument
) -> tuple[Decimal | None, int | None, list[tuple[int, str]]]:
    """The first amount is the quantity; a later number-with-unit after the pair is a tenor."""
    amounts = [i for i in r.at(Kind.AMOUNT) if i not in r.used]
    first = amounts[0] if amounts else None
    quantity = take_quantity(r, first) if first is not None else None
    tenors: list[tuple[int, str]] = []
    for index in amounts[1:]:
        amount = r.toks[index].value
        assert isinstance(amount, Amount)
        if amount.tenor is None or index < instrument.index:
            texts = ", ".join(r.toks[i].text for i in amounts)
            raise Clarify(
                f"I see more than one amount ({texts}). Please send one amount per order.",
                code="amount",
            )
        tenors.append((index, amount.tenor))
    tenors.extend((i, str(r.toks[i].value)) for i in r.at(Kind.TENOR) if i not in r.used)
    for index in r.at(Kind.DATE):
        if index not in r.used:
            tenors.append((index, a_date(r, index, value_date=True)))
    return quantity, first, sorted(tenors)


@dataclass(frozen=True, slots=True)
class Legs:
    product: Product
    tenor: str | None = None
    near: str | None = None
    far: str | None = None


def legs(r: Reading, instrument: Instrument, tenors: list[tuple[int, str]]) -> Legs:
    """Outright (one tenor, SPOT when none), swap (near and far) or NDF (a non-deliverable pair
    and a forward tenor)."""
    products = {str(r.toks[i].value) for i in r.at(Kind.PRODUCT)}
    swap_side = any(r.toks[i].word in t.SWAP_SIDE_WORDS for i in r.at(Kind.SIDE))
    swap_pairs = r.at(Kind.SWAP_TENOR)
    if not instrument.is_fx:
        if products or swap_side or swap_pairs:
            raise Clarify("Swaps, NDFs and forwards are FX products, not bonds.", code="product")
        if tenors:
            raise Clarify(
                "A bond order has no tenor. Please send the ISIN, amount and price only.",
                code="tenor",
            )
        return Legs(Product.OUTRIGHT)
    named = products & {"swap", "ndf"}
    if len(named) > 1 or (named and products - named):
        words = ", ".join(sorted(products))
        raise Clarify(f"Which product is it ({words})? Please name one.", code="product")
    joiner = _joiner_between(r, tenors)
    if named == {"swap"} or swap_side or swap_pairs or joiner is not None:
        return _swap(r, instrument, tenors, joiner, explicit="swap" in named or swap_side)
    tenor = _one_tenor(r, instrument, tenors)
    for index in r.at(Kind.PRODUCT):
        r.note(index, "product", "ndf" if "ndf" in named else "outright")
    if "ndf" in named:
        return _ndf(instrument, tenor)
    if "forward" in products and (tenor is None or tenor in _SHORT_DATED):
        raise Clarify(
            f"A forward for which date? Please add a tenor, {EXAMPLE} 3m fwd.",
            ("tenor",),
            code="tenor",
        )
    return Legs(Product.OUTRIGHT, tenor=tenor or "SPOT")


def _ndf(instrument: Instrument, tenor: str | None) -> Legs:
    assert instrument.pair is not None
    if not set(instrument.pair) & t.NDF_CURRENCIES:
        pair = "/".join(instrument.pair)
        raise Clarify(
            f"{pair} is deliverable: an NDF needs a non-deliverable currency "
            f"({', '.join(sorted(t.NDF_CURRENCIES))}).",
            code="product",
        )
    if tenor is None or tenor in _SHORT_DATED:
        raise Clarify(
            "An NDF for which date? Please add a tenor, e.g. 'sell 3m usdkrw 3m ndf'.",
            ("tenor",),
            code="tenor",
        )
    return Legs(Product.NDF, tenor=tenor)


def _joiner_between(r: Reading, tenors: list[tuple[int, str]]) -> int | None:
    """`spot vs 1m`, `1w/3m`: two tenors with a joiner between them are a swap's two legs."""
    if len(tenors) != 2:
        return None
    (near, _), (far, _) = tenors
    if far - near == 2 and r.kind_at(near + 1) is Kind.JOINER and r.toks[near + 1].word != "for":
        return near + 1
    return None


def _swap(
    r: Reading,
    instrument: Instrument,
    tenors: list[tuple[int, str]],
    joiner: int | None,
    *,
    explicit: bool,
) -> Legs:
    swap_pairs = r.at(Kind.SWAP_TENOR)
    near: str
    far: str
    if swap_pairs:
        if len(swap_pairs) > 1 or tenors:
            raise Clarify("I see more than one pair of swap dates. Please give one.", code="tenor")
        legs = r.toks[swap_pairs[0]].value
        assert isinstance(legs, tuple)
        near, far = str(legs[0]), str(legs[1])
        r.note(swap_pairs[0], "near_tenor/far_tenor", f"{near}/{far}")
    elif len(tenors) == 2 and (joiner is not None or explicit):
        _check_after_pair(r, instrument, tenors)
        (near_at, near), (far_at, far) = tenors
        r.note(near_at, "near_tenor", near)
        r.note(far_at, "far_tenor", far)
    elif len(tenors) == 1 and explicit and tenors[0][1] not in _SHORT_DATED:
        _check_after_pair(r, instrument, tenors)
        near, (far_at, far) = "SPOT", tenors[0]
        r.note(far_at, "far_tenor", far)
    else:
        raise Clarify(
            "A swap between which dates? Please give both legs, e.g. 'spot vs 1m' or '1w/3m'.",
            ("near_tenor", "far_tenor"),
            code="tenor",
        )
    for index in [*r.at(Kind.PRODUCT), *([joiner] if joiner is not None else [])]:
        r.note(index, "product", "swap")
    start, end = rough_days(str(near), r.today), rough_days(str(far), r.today)
    if start is not None and end is not None and start >= end:
        raise Clarify(
            f"The far leg ({far}) must come after the near leg ({near}). Please check the dates.",
            code="tenor",
        )
    return Legs(Product.SWAP, near=str(near), far=str(far))


def _check_after_pair(r: Reading, instrument: Instrument, tenors: list[tuple[int, str]]) -> None:
    for index, tenor in tenors:
        if index < instrument.index and r.toks[index].word not in t.TENOR_WORDS:
            raise Clarify(
                f"Please put the tenor after the pair, e.g. 'buy 1m eurusd {tenor}'.",
                code="tenor",
            )


def _one_tenor(r: Reading, instrument: Instrument, tenors: list[tuple[int, str]]) -> str | None:
    if not tenors:
        return None
    if len(tenors) > 1:
        texts = ", ".join(r.toks[i].text for i, _ in tenors)
        raise Clarify(
            f"I see more than one tenor ({texts}). Please send one per order.", code="tenor"
        )
    _check_after_pair(r, instrument, tenors)
    index, tenor = tenors[0]
    r.note(index, "tenor", tenor)
    return tenor


def counterparty(r: Reading, instrument: Instrument) -> str | None:
    """A liquidity provider by code or name, after the instrument, maybe after via/with."""
    found = r.at(Kind.LP)
    if not found:
        return None
    codes = {str(r.toks[i].value) for i in found}
    if len(codes) > 1:
        raise Clarify(
            f"I see more than one counterparty ({', '.join(sorted(codes))}). Pick one.",
            code="counterparty",
        )
    if found[0] < instrument.index:
        raise Clarify(
            "Please name the counterparty after the instrument, e.g. 'buy 1m eurusd 360T'.",
            code="counterparty",
        )
    code = codes.pop()
    for index in found:
        r.note(index, "counterparty", code)
        if r.kind_at(index - 1) is Kind.VIA:
            r.note(index - 1, "counterparty", code)
    return code


def dealt_currency(r: Reading, written: tuple[str, str], quantity_at: int | None) -> str:
    """A currency sign or code next to the amount; else the first currency the client wrote."""
    from_sign = _dealt_by_sign(r, written, quantity_at)
    found = r.at(Kind.CUR)
    if not found:
        return from_sign or written[0]
    if len(found) > 1:
        raise Clarify(
            "I see more currencies than the pair. Which currency is the amount in?",
            code="currency",
        )
    index = found[0]
    code = str(r.toks[index].value)
    if code not in written:
        raise Clarify(
            f"The amount is in {code}, but the pair is {written[0]}/{written[1]}.",
            code="currency",
        )
    if quantity_at is None or not _next_to(r, index, quantity_at):
        raise Clarify(
            f"Is the amount in {code}? Please write it next to the amount, e.g. '1m {code}'.",
            code="currency",
        )
    if from_sign is not None and from_sign != code:
        raise Clarify(
            f"The sign says {from_sign} but the amount says {code}. Which is it?",
            code="currency",
        )
    r.note(index, "dealt_currency", code)
    return code


def _dealt_by_sign(r: Reading, written: tuple[str, str], quantity_at: int | None) -> str | None:
    signs = r.at(Kind.SIGN)
    if not signs:
        return None
    if len(signs) > 1 or quantity_at is None or abs(signs[0] - quantity_at) != 1:
        raise Clarify(
            "Which currency is the amount in? Please put the currency sign right next to the "
            "amount, e.g. 'buy $1m eurusd'.",
            code="currency",
        )
    sign = r.toks[signs[0]]
    assert isinstance(sign.value, tuple)
    codes = [str(code) for code in sign.value if code in written]
    if len(codes) != 1:
        pair = f"{written[0]}/{written[1]}"
        raise Clarify(
            f"'{sign.text}' is not one of the currencies of {pair}. Which currency is the "
            "amount in?",
            code="currency",
            word=sign.text,
        )
    r.note(signs[0], "dealt_currency", codes[0])
    return codes[0]


def _next_to(r: Reading, index: int, target: int) -> bool:
    for step in (-1, 1):
        j = index + step
        while 0 <= j < len(r.toks) and r.toks[j].kind is Kind.FILLER:
            j += step
        if j == target:
            return True
    return False
