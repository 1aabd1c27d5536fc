"""Replies in the client's language: a message written in Chinese is answered in Chinese, in the
script the client used (simplified or traditional), for every reply of that turn.

The flow writes its replies in English; `localise` turns each one into Chinese from a catalogue
that pairs every reply template (the flow's own constants, so the two cannot drift apart) with its
Chinese. An order line inside a reply is read by the parser (it is the language's own read-back)
and written again in Chinese, so figures, refs and dates are carried over exactly. A `clarify` is
answered from its reason code, naming the word it did not understand. A reply the catalogue does
not know yet stays in English rather than being guessed at."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from types import ModuleType

from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import amend, clarify_reply, executions, replies
from dealchat.conversations.zh_text import (
    CLARIFY,
    GENERIC_CLARIFY,
    currency_zh,
    order_zh,
    reason_zh,
)
from dealchat.nlu import Intent, IntentKind
from dealchat.nlu.language import HANT, language_of, to_traditional
from dealchat.orders.tickets import TICKET

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

Convert = Callable[[str], str]


def localise(answers: list[OutboundMessage], text: str, intent: Intent) -> list[OutboundMessage]:
    """The turn's replies in the language `text` was written in."""
    return in_language(answers, language_of(text), intent)


def in_language(
    answers: list[OutboundMessage], language: str | None, intent: Intent | None = None
) -> list[OutboundMessage]:
    """The replies in `language` (`zh-Hans`, `zh-Hant`; None: as written): a message sent later
    (a dealer's price) in the language the client asked in."""
    if language is None:
        return answers
    intent = intent or Intent(IntentKind.UNKNOWN)
    out = []
    for answer in answers:
        chinese = "\n".join(_line(line, intent) for line in answer.text.split("\n"))
        if language == HANT:
            chinese = to_traditional().convert(chinese)
        out.append(OutboundMessage(text=chinese, link=answer.link))
    return out


def _line(line: str, intent: Intent) -> str:
    if intent.intent is IntentKind.CLARIFY and intent.reason and line.startswith(intent.reason):
        return _clarify(intent)
    status = _STATUS_LINE.fullmatch(line)
    if status is not None:
        return _status_zh(status)
    for pattern, chinese, converters in _catalogue():
        found = pattern.fullmatch(line)
        if found is not None:
            values = {
                name: converters.get(name, str)(value) for name, value in found.groupdict().items()
            }
            return chinese.format(**values)
    return line


# `replies.status_line`: `ORD-X FILLED BUY 1,000,000 EUR vs USD SPOT at market, done at 1.08 on
# 2026-12-07 10:00:05 UTC (ordered 2026-12-07 09:59 UTC)`
_STATUS_LINE = re.compile(
    r"(?P<ref>ORD-\w+) (?P<state>[A-Z_]+) (?P<what>.+?)"
    r"(?:, done at (?P<price>\S+)(?: on (?P<filled>[^()]*UTC))?)?"
    r" \(ordered (?P<when>[^()]*UTC)\)"
)
_STATE = {
    "awaiting_confirmation": "待确认",
    "placed": "已发送",
    "filled": "已成交",
    "rejected": "已拒绝",
    "cancelled": "已取消",
    "expired": "已过期",
    "held": "暂缓执行",
    "aborted": "已终止",
    "partially_filled": "部分成交",
}


def _state_zh(state: str) -> str:
    return _STATE.get(state.lower(), state)


def _status_zh(found: re.Match[str]) -> str:
    done = f"，成交价 {found['price']}" if found["price"] else ""
    done += f"，成交时间 {found['filled']}" if found["filled"] else ""
    state, what = _state_zh(found["state"]), order_zh(found["what"])
    return f"{found['ref']} {state} {what}{done}（下单 {found['when']}）"


def _clarify(intent: Intent) -> str:
    template = CLARIFY.get(intent.code or "", GENERIC_CLARIFY)
    text = template.format(word=intent.word or "")
    near = clarify_reply.suggestion(intent)
    return text + (f"您是不是想写「{near}」？" if near else "")


def _pattern(template: str) -> re.Pattern[str]:
    """An English reply template as a regex: `{ref}` becomes a named group."""
    parts = _PLACEHOLDER.split(template)
    out = []
    seen: set[str] = set()
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(re.escape(part))
        elif part in seen:
            out.append(f"(?P={part})")
        else:
            seen.add(part)
            out.append(f"(?P<{part}>.*?)")
    return re.compile("".join(out), re.DOTALL)


def _dates_zh(text: str) -> str:
    swap = re.fullmatch(
        r" Near leg: you (BUY|SELL) (\w+) value (\S+); far leg: you (BUY|SELL) \w+ value (\S+)\.",
        text,
    )
    if swap:
        first, base, near, second, far = swap.groups()
        return (
            f"近端：您{_VERB[first]}{currency_zh(base)}，起息日 {near}；"
            f"远端：您{_VERB[second]}{currency_zh(base)}，起息日 {far}。"
        )
    ndf = re.fullmatch(r" Non-deliverable: fixing (\S+), settled in USD value (\S+)\.", text)
    if ndf:
        return f"无本金交割：定价日 {ndf.group(1)}，以美元结算，起息日 {ndf.group(2)}。"
    return text


_VERB = {"BUY": "买入", "SELL": "卖出", "BOUGHT": "买入了", "SOLD": "卖出了"}


def _leg_zh(text: str) -> str:
    """`bought EUR 1,000,000.00` -> `买入了 欧元 1,000,000.00` (`replies.leg_text`)."""
    found = re.fullmatch(r"(bought|sold) ([A-Z]{3}) (\S+)", text)
    if found is None:
        return text
    verb, currency, amount = found.groups()
    return f"{_VERB[verb.upper()]} {currency_zh(currency)} {amount}"


def _fill_zh(text: str) -> str:
    """`YOU BOUGHT 1,000,000 EUR vs USD 1W`: the instrument words after the verb."""
    verb, _, rest = text.partition(" ")
    return order_zh(f"{'buy' if verb == 'BOUGHT' else 'sell'} {rest}", past=True)


def _templates() -> tuple[tuple[str, str, dict[str, Convert]], ...]:
    # pretrade and rfq import the desk, which imports this module: read their texts at first use
    from dealchat.conversations import pretrade, rfq  # noqa: PLC0415

    return (
        *_FIXED,
        *_rfq_templates(rfq),
        (
            pretrade.HELD,
            "{ref} 暂缓执行：交易台在发往市场前需要复核（{why}）。放行或终止时我会在这里通知您。",
            {},
        ),
        (pretrade.REJECTED, "{ref} 未发往市场：{why}。没有成交。", {}),
        (pretrade.ABORTED, "{ref} 已被交易台终止，未发往市场。没有成交。", {}),
        (pretrade.EXPIRED, "{ref} 未在时限内获批，未发往市场。没有成交。", {}),
    )


def _rfq_templates(rfq: ModuleType) -> tuple[tuple[str, str, dict[str, Convert]], ...]:
    return (
        (rfq.REQUESTED_TEXT, "交易员正在为此报价（{ref}）：{request}。报价会发到这里；"
         "如果到 UTC {until} 还没有报价，我会告诉您。", {}),
        (rfq.REPLACED_TEXT, "{ref} 已撤回：由您的新询价取代。", {}),
        (rfq.PRICED_TEXT, "{ref} {request}：交易员报价 买价 {bid} / 卖价 {ask}，{seconds} 秒内有效"
         "（至 UTC {until}）。回复 mine 以 {ask} 买入，或回复 yours 以 {bid} 卖出。", {}),
        (rfq.PRICED_BUY, "{ref} {request}：交易员报价 {ask}，仅供您买入，{seconds} 秒内有效"
         "（至 UTC {until}）。回复 mine 以 {ask} 买入。", {}),
        (rfq.PRICED_SELL, "{ref} {request}：交易员报价 {bid}，仅供您卖出，{seconds} 秒内有效"
         "（至 UTC {until}）。回复 yours 以 {bid} 卖出。", {}),
        (rfq.DECLINED_TEXT, "{ref}：交易员拒绝为 {request} 报价：{reason}。没有成交。", {}),
        (rfq.NOT_PRICED, "{ref}：没有交易员在时限内为 {request} 报价，因此没有可成交的价格。"
         "请重新询价，或致电您的交易员。", {}),
        (rfq.PRICE_EXPIRED, "{ref}：交易员为 {request} 给出的报价已于 UTC {until} 过期，不能再成交。"
         "请重新询价。", {}),
        (rfq.STILL_PRICING, "{ref} 仍在由交易员报价：目前还没有可成交的价格。报价会发到这里。", {}),
        (rfq.ONLY_BUY, "交易员为 {ref} 给出的报价仅供您买入。要卖出请重新询价。", {}),
        (rfq.ONLY_SELL, "交易员为 {ref} 给出的报价仅供您卖出。要买入请重新询价。", {}),
    )  # fmt: skip


_FIXED: tuple[tuple[str, str, dict[str, Convert]], ...] = (
    ("{head}: {bid} / {ask} (indicative, valid {ttl}s). Reply mine to buy at {ask2} or yours "
     "to sell at {bid2}.", "{head}：买价 {bid} / 卖价 {ask}（参考价，{ttl} 秒内有效）。"
     "回复 mine 以 {ask2} 买入，或回复 yours 以 {bid2} 卖出。", {}),
    ("{head}: {bid} / {ask} (indicative, valid {ttl}s). Reply mine to buy at {ask2}.",
     "{head}：买价 {bid} / 卖价 {ask}（参考价，{ttl} 秒内有效）。回复 mine 以 {ask2} 买入。", {}),
    ("{head}: {bid} / {ask} (indicative, valid {ttl}s). Reply yours to sell at {bid2}.",
     "{head}：买价 {bid} / 卖价 {ask}（参考价，{ttl} 秒内有效）。回复 yours 以 {bid2} 卖出。", {}),
    ("{pair}: price of 1 {base} in {quote}. Ask 'mkt {name} 1m'.",
     "{pair}：1 {base} 的 {quote} 价格。询价请写「{name} 100万 报价」。", {}),
    ("{isin}: a bond. Ask 'quote {isin2} 1m' for a price.",
     "{isin}：债券。询价请写「报价 {isin2} 100万」。", {}),
    (TICKET, "待确认：您{what}。{dates}编号 {ref}。回复 c 确认，回复 x 取消。", {}),
    (replies.HELP, "我为交易台接收外汇和债券订单。例如：「欧元美元 100万 报价」询价，"
     "「买入100万欧元兑美元」下单，「状态」查看订单，「登录」绑定账户。我绝不会在聊天中索要您的密码。", {}),
    (replies.UNKNOWN, "抱歉，我没有看懂。请输入「帮助」查看我能做什么。", {}),
    (replies.OFF_CHANNEL, "我们只能在这里讨论和接收订单，这里的对话按监管要求全程记录；"
     "不能转到其他应用、私人电话或私人邮箱。请问在这里有什么可以帮您？", {}),
    (replies.LOGIN, "请在银行的安全页面登录（一次性，{minutes} 分钟内有效），然后回到这里重新发送您的请求。"
     "请勿转发此链接。", {}),
    (replies.RELOGIN, "本对话已经登录。如需重新登录或以其他身份登录，请使用银行的安全页面（一次性，{minutes} 分钟内有效）。"
     "请勿转发此链接。", {}),
    (replies.LINK_SENT, "安全链接已经发到本对话，在 UTC {until} 之前有效。请使用那个链接（过期后可以再要一个）。", {}),
    (replies.STEP_UP, "要确认 {ref}，请在银行的安全页面用密码和验证码批准（一次性，{minutes} 分钟内有效），"
     "然后在这里回复 c。", {}),
    (replies.NOTHING_TO_CONFIRM, "没有需要确认的订单。请先下单，例如「买入100万欧元兑美元」。", {}),
    (replies.NOTHING_TO_CANCEL, "没有可以取消的订单。", {}),
    (replies.NO_LIVE_QUOTE, "没有可成交的有效报价。请先询价，例如「欧元美元 100万 报价」。", {}),
    (replies.QUOTE_EXPIRED, "{ref} 的报价已过期，没有成交。请重新询价。", {}),
    (replies.TICKET_EXPIRED, "{ref} 未在时限内确认，没有成交。请重新下单。", {}),
    (replies.NO_ORDERS, "您还没有订单。", {}),
    (replies.REPORT, "审计报告仅供银行内部授权人员在合规控制台使用。", {}),
    (replies.RECEIPT_LINE, "您的签名回执（一次性，{minutes} 分钟内有效）：请保存；"
     "任何人都可以用 dealchat audit verify-receipt 离线核验。", {}),
    (replies.REPORT_LINK, "本对话的审计报告（一次性，{minutes} 分钟内有效，仅限有审计导出权限的已登录用户）。"
     "请勿转发此链接。", {}),
    (replies.UPLOAD_LINK, "请在银行的安全页面上传文件（一个文件，一次性，{minutes} 分钟内有效）。"
     "文件会经过病毒扫描，并与本对话一起加密保存。请勿转发此链接。", {}),
    (replies.RESET_LINK, "要设置新密码，请打开银行的安全页面（一次性，{minutes} 分钟内有效）。"
     "页面会先要求您的第二重验证。请勿在本对话中输入密码，也请勿转发此链接。", {}),
    (replies.RESET_NOT_LINKED, "本对话没有绑定客户账户，无法在这里重置密码。请联系您的客户经理。", {}),
    (replies.UPLOAD_REFUSED, "您的账户不能在这里上传文件。请联系您的交易员。", {}),
    (replies.CANNOT_PRICE, "我无法在这里为 {name} 报价。请致电您的交易员。", {}),
    (replies.QUOTE_WITHOUT_SIZE, "该报价没有金额。请带金额询价，例如「欧元美元 100万 报价」。", {}),
    (replies.SIZE_MISMATCH, "该报价的金额是 {quoted}。请为 {wanted} 重新询价。", {}),
    ("Cancelled {ref}. Nothing was traded.", "已取消 {ref}，没有成交。", {}),
    ("{ref} is {state}; it can't be cancelled in chat. Please call your dealer.",
     "{ref} 的状态是 {state}，不能在聊天中取消。请致电您的交易员。", {}),
    ("I can't find {ref} among your orders.", "在您的订单中找不到 {ref}。", {}),
    ("FILLED {ref}: YOU {what} at {price} with {lp}. Execution {execution}.",
     "已成交 {ref}：您{what}，成交价 {price}，交易对手 {lp}。成交编号 {execution}。", {}),
    ("REJECTED {ref}: {why}. Nothing was traded.", "已拒绝 {ref}：{why}。没有成交。", {}),
    (replies.FILL_AMOUNTS, "您{leg}／{other_leg}，起息日 {value_date}。",
     {"leg": _leg_zh, "other_leg": _leg_zh}),
    (replies.FILL_SWAP_DATES, "近端起息日 {value_date}，远端起息日 {far_value_date}。", {}),
    (replies.FILL_NDF_DATES, "定价日 {fixing_date}，以美元结算，起息日 {value_date}。", {}),
    (replies.REPLACED, "{ref} 已取消：由 {new} 取代。{ref} 没有成交。", {}),
    (replies.HIDDEN_DRAFTS, "另有 {count} 张已取消或已过期的订单未显示：输入「状态 全部」查看。", {}),
    (replies.HIDDEN_DRAFT, "另有 {count} 张已取消或已过期的订单未显示：输入「状态 全部」查看。", {}),
    (amend.NOTHING_TO_AMEND, "没有可以修改的待确认订单。请先下单，例如「买入100万欧元兑美元」。", {}),
    (amend.NOT_HERE_YET, "{ref} 的状态是 {state}，暂时不能在这里修改。请致电您的交易员修改，"
     "或取消后重新下单。", {}),
    (amend.NOT_FOUND, "在您的订单中找不到 {ref}。", {}),
    (amend.FROM_QUOTE, "{ref} 使用的是您收到的报价，不能修改。请重新询价。", {}),
    (amend.AMENDED, "已修改 {ref}。{ticket}", {}),
    (amend.UNCLEAR, "无法这样修改 {ref}：{reason}", {}),
    (amend.STOP_OR_LIMIT, "{ref} 是{kind}单。请说明改哪个价格，例如「change {ref2} {word} to 1.0750」。",
     {"kind": lambda kind: "止损" if kind == "stop" else "限价"}),
    (amend.WHICH_LEG, "{ref} 是掉期：请取消后用新的日期重新发送。", {}),
    (amend.EXPIRED, "{ref} 未在时限内确认，没有成交。请重新下单。", {}),
    (amend.REPLACE_ONLY, "{ref} 正在交易对手处挂单：只能修改金额和限价。其他修改请先取消（cancel {ref}）再重新下单。",
     {}),
    (amend.REPLACE_STEP_UP, "要把 {ref} 的修改发送到市场，请在银行的安全页面用密码和验证码确认"
     "（一次性，{minutes} 分钟内有效），然后在这里再次发送修改。", {}),
    (executions.SENT, "已将 {ref} 发送给 {venue}：{what}。{venue} 一有回复我就在这里告诉您。", {}),
    (executions.CANCEL_SENT, "已向 {venue} 发送取消 {ref} 的请求。{venue} 确认后我会在这里告诉您。", {}),
    (executions.REPLACE_SENT, "已向 {venue} 发送 {ref} 的修改：{what}。完成后我会在这里告诉您。", {}),
    (executions.NOT_SENT, "{ref} 没有发送到市场：{why}。没有成交。", {}),
)  # fmt: skip


def _what_zh(text: str) -> str:
    return (
        _fill_zh(text) if text.split(" ", maxsplit=1)[0] in ("BOUGHT", "SOLD") else order_zh(text)
    )


def _converters() -> dict[str, Convert]:
    return {
        "what": _what_zh,
        "state": _state_zh,
        "dates": _dates_zh,
        "ticket": lambda text: _line(text, Intent(IntentKind.UNKNOWN)),
        "reason": reason_zh,
    }


@lru_cache(maxsize=1)
def _catalogue() -> tuple[tuple[re.Pattern[str], str, dict[str, Convert]], ...]:
    shared = _converters()
    return tuple(
        (_pattern(english), chinese, {**shared, **own}) for english, chinese, own in _templates()
    )
