"""SWIFT MT940/MT950 statements and MT900/MT910 confirmations, read into plain lines.

A file may hold several messages, each in its SWIFT envelope (`{1:..}{2:O940..}{4:\n...\n-}`) or
as bare text blocks starting at `:20:`. MT940 and MT950 are read with the `mt-940` package (the
same fields; an MT950 has no :86:); an MT900 (debit) or MT910 (credit) confirmation is one line
from :20:, :21: (the related reference: ours), :25: and :32A:, and needs its block 2 to say
which it is. Amounts are signed from the bank's side: positive is a credit to its account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MT940, MT950, MT900, MT910 = "MT940", "MT950", "MT900", "MT910"
_ENVELOPE = re.compile(r"\{2:[IO](9[0-9]{2})[^}]*\}.*?\{4:\s*(.*?)\n-\}", re.S)
_FIELD = re.compile(r"^:(\d\d[A-Z]?):", re.M)
_AMOUNT_32A = re.compile(r"^(\d{6})([A-Z]{3})([0-9]+,[0-9]*)$")


class StatementError(ValueError):
    """A message that is not a readable MT940/950/900/910, with what is wrong."""


@dataclass(frozen=True)
class Line:
    currency: str
    value_date: dt.date
    amount: Decimal
    reference: str
    bank_reference: str | None
    details: str | None


@dataclass(frozen=True)
class Message:
    kind: str
    account: str
    reference: str
    number: str
    digest: str
    closing_date: dt.date | None  # a statement's closing balance date
    lines: tuple[Line, ...]


def read(text: str) -> list[Message]:
    """Every message of a file; StatementError names the first one that cannot be read."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    wrapped: list[tuple[str | None, str]] = [
        (f"MT{kind}", body) for kind, body in _ENVELOPE.findall(text)
    ]
    if not wrapped:
        wrapped = [(None, body) for body in _bare_messages(text)]
    if not wrapped:
        raise StatementError("no SWIFT message found (expected :20: fields or {4: blocks)")
    return [_message(kind, body) for kind, body in wrapped]


def _bare_messages(text: str) -> list[str]:
    starts = [m.start() for m in re.finditer(r"^:20:", text, re.M)]
    if not starts:
        return []
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def _message(kind: str | None, body: str) -> Message:
    fields = _fields(body)
    if kind is None:
        if "32A" in fields:
            raise StatementError("an MT900/MT910 needs its SWIFT header (block 2) to say which")
        kind = MT940 if "86" in fields else MT950
    digest = hashlib.sha256("\n".join(x.strip() for x in body.splitlines()).encode()).hexdigest()
    if kind in (MT900, MT910):
        return _confirmation(kind, fields, digest)
    if kind not in (MT940, MT950):
        raise StatementError(f"{kind} is not a statement or confirmation this reads")
    return _statement(kind, body, digest)


def _fields(body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    marks = list(_FIELD.finditer(body))
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(body)
        found.setdefault(mark.group(1), body[mark.end() : end].strip())
    return found


def _confirmation(kind: str, fields: dict[str, str], digest: str) -> Message:
    for tag in ("20", "21", "25", "32A"):
        if tag not in fields:
            raise StatementError(f"{kind} without its :{tag}: field")
    found = _AMOUNT_32A.match(fields["32A"].replace("\n", ""))
    if found is None:
        raise StatementError(f"{kind} :32A: {fields['32A']!r} is not YYMMDD, currency, amount")
    day, currency, amount = found.groups()
    value = _amount(amount)
    line = Line(
        currency=currency,
        value_date=dt.datetime.strptime(day, "%y%m%d").date(),
        amount=-value if kind == MT900 else value,
        reference=fields["21"],
        bank_reference=fields["20"],
        details=fields.get("72"),
    )
    return Message(kind, fields["25"], fields["20"], "", digest, None, (line,))


def _statement(kind: str, body: str, digest: str) -> Message:
    import mt940  # noqa: PLC0415 - the statement reader, only when there are statements

    parsed = mt940.models.Transactions()
    try:
        parsed.parse(body)
    except Exception as error:  # the package raises several kinds on malformed input
        raise StatementError(f"{kind} not readable: {error}") from error
    data = parsed.data
    if not data.get("transaction_reference") or not data.get("account_identification"):
        raise StatementError(f"{kind} without :20: or :25:")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    lines = tuple(_statement_line(tr.data) for tr in parsed)
    number = f"{data.get('statement_number') or ''}/{data.get('sequence_number') or ''}"
    return Message(
        kind=kind,
        account=str(data["account_identification"]),
        reference=str(data["transaction_reference"]),
        number=number,
        digest=digest,
        closing_date=None if closing is None else dt.date.fromordinal(closing.date.toordinal()),
        lines=lines,
    )


def _statement_line(data: dict[str, object]) -> Line:
    amount = data["amount"]
    value = Decimal(str(amount.amount))  # type: ignore[attr-defined]
    day = data["date"]
    assert isinstance(day, dt.date)
    details = data.get("transaction_details")
    return Line(
        currency=str(amount.currency),  # type: ignore[attr-defined]
        value_date=dt.date.fromordinal(day.toordinal()),
        amount=value,
        reference=str(data.get("customer_reference") or ""),
        bank_reference=None if not data.get("bank_reference") else str(data["bank_reference"]),
        details=None if details is None else str(details),
    )


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation as error:
        raise StatementError(f"{text!r} is not a SWIFT amount") from error
