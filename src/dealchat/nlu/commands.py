"""One-word commands: help, confirm, cancel, status, link, report, upload (maybe with an order
ref), and "forgot password" (the self-service reset)."""

from __future__ import annotations

from dealchat.nlu import tables as t
from dealchat.nlu.lexer import Kind, Tok
from dealchat.nlu.model import Explained, Intent, IntentKind

_SIMPLE: tuple[tuple[frozenset[str], IntentKind], ...] = (
    (t.HELP_WORDS, IntentKind.HELP),
    (t.CONFIRM_WORDS, IntentKind.CONFIRM),
    (t.CANCEL_WORDS, IntentKind.CANCEL),
    (t.STATUS_WORDS, IntentKind.STATUS),
    (t.LINK_WORDS, IntentKind.LINK),
    (t.REPORT_WORDS, IntentKind.REPORT),
    (t.UPLOAD_WORDS, IntentKind.UPLOAD),
)
_TAKES_REF = frozenset({IntentKind.CANCEL, IntentKind.STATUS})
_YES_OR_NO = t.CONFIRM_WORDS | t.CANCEL_WORDS
_CANCEL_OR_STATUS = t.CANCEL_WORDS | t.STATUS_WORDS
# A message with any of these is about a trade, never a one-word command.
_NOT_COMMANDS = frozenset(
    {Kind.PAIR, Kind.BAD_PAIR, Kind.AMOUNT, Kind.ISIN, Kind.BAD_ISIN, Kind.CUR, Kind.SIDE,
     Kind.TENOR, Kind.DATE, Kind.PRICE, Kind.LP, Kind.SIGN, Kind.AMEND}
)  # fmt: skip

ONE_REF = "Which order? Please name one order at a time, e.g. 'cancel ORD-42'."
YES_OR_NO = "Did you mean yes or no? Reply 'c' to confirm or 'x' to cancel."


def command_intent(toks: list[Tok]) -> Intent | None:
    """The command a short message is, or None when it is not only a command."""
    if not _NOT_COMMANDS.isdisjoint([tok.kind for tok in toks]):
        return None
    refs = [tok for tok in toks if tok.kind is Kind.REF]
    words = [tok.word for tok in toks if tok.kind not in (Kind.REF, Kind.POLITE)]
    if words == ["?"] and not refs:
        return Intent(IntentKind.HELP)
    core = {w for w in words if w not in t.COMMAND_FILLERS and w != "?"}
    if not core:
        return None
    special = _doubt_or_reset(core, refs)
    if special is not None:
        return special
    for vocabulary, kind in _SIMPLE:
        if core <= vocabulary and (not refs or kind in _TAKES_REF):
            return _with_ref(kind, refs)
    return _status_all(core, refs)


def _doubt_or_reset(core: set[str], refs: list[Tok]) -> Intent | None:
    """A doubt to ask about; or "forgot password", "I forgot my password", "忘记密码": the
    self-service reset."""
    doubt = _doubt(core, refs)
    if doubt is not None:
        return Intent(IntentKind.CLARIFY, reason=doubt, code="command")
    if t.RESET_WORD in core and not refs and core - {t.RESET_WORD} <= t.RESET_BESIDE:
        return Intent(IntentKind.RESET_PASSWORD)
    return None


def _status_all(core: set[str], refs: list[Tok]) -> Intent | None:
    """`status all`, `all orders`: every order, the cancelled and expired tickets included."""
    rest = core - t.ALL_WORDS
    if refs or rest == core or not rest or not rest <= t.STATUS_WORDS:
        return None
    words = next(w for w in sorted(core) if w in t.ALL_WORDS)
    return Intent(
        IntentKind.STATUS, show_all=True, explanation=(Explained(words, "show_all", "true"),)
    )


def _doubt(core: set[str], refs: list[Tok]) -> str | None:
    """Yes and no at once, or several orders named: ask, don't guess."""
    if core <= _YES_OR_NO and core & t.CONFIRM_WORDS and core & t.CANCEL_WORDS:
        return YES_OR_NO
    if len(refs) > 1 and core <= _CANCEL_OR_STATUS:
        return ONE_REF
    return None


def _with_ref(kind: IntentKind, refs: list[Tok]) -> Intent:
    if not refs:
        return Intent(kind)
    ref = refs[0]
    value = str(ref.value)
    return Intent(kind, order_ref=value, explanation=(Explained(ref.text, "order_ref", value),))
