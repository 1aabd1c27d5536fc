"""Chinese wording (simplified; `i18n` converts to traditional): `clarify` reasons by code, and
an order line written again in Chinese from the fields the parser reads in it."""

from __future__ import annotations

from dealchat.nlu import Intent, IntentKind, Parser

EXAMPLE = "例如「买入100万欧元兑美元」"
GENERIC_CLARIFY = f"抱歉，我不能确定您的意思。请把订单写清楚，{EXAMPLE}。"
CLARIFY: dict[str, str] = {
    "unknown_word": f"我不明白「{{word}}」在这里是什么意思。请用我认识的词重写，{EXAMPLE}。",
    "negation": f"您的消息里有否定词（「{{word}}」），我不能据此下单。要交易请直接写，{EXAMPLE}。",
    "condition": "这听起来是一个条件（「{word}」），不是指令：聊天中不能接条件单。",
    "correction": "您的消息自己改了一次（「{word}」）。请把完整的订单按您要的重新发一次。",
    "hedge": f"这听起来还没有决定（「{{word}}」）。要交易请直接写，{EXAMPLE}。",
    "whose_side": "是您请我们交易，还是您自己买卖？请直接写「我买入……」或「我卖出……」。",
    "question": f"这是订单吗？请去掉问号后发送，{EXAMPLE}。",
    "relative_date": "聊天中不能用相对日期（「{word}」）。请写期限（如 1M）或日期（如 12月15日）。",
    "unsupported": "聊天中只接市价单、限价单和止损单。其他指令请致电您的交易员。",
    "number": "我看不懂这个数字（「{word}」）。金额请写成 100万 或 1m，价格写在「限价」之后。",
    "pair": "请检查货币对（「{word}」），例如「欧元兑美元」。",
    "isin": "这个 ISIN 的校验位不对，请检查。",
    "amount": f"请写明金额，{EXAMPLE}。",
    "amount_unit": "「{word}」是千还是百万？请加上单位，例如 100万 或 1m。",
    "price": "我看不懂这个价格。请写成「限价 1.0850」。",
    "missing_price": "价格是多少？请写在「限价」或「止损」之后。",
    "tif": "请检查订单的有效期（GTC、GTD、当日有效、IOC 或 FOK）。",
    "date": "请检查日期：起息日须为今天或之后的工作日。",
    "tenor": "请检查期限，例如 即期、一周、三个月，或掉期的两个日期。",
    "product": "请检查产品：无本金交割远期只适用于不可交割货币，掉期和远期只适用于外汇。",
    "currency": "金额是哪种货币？请把币种写在金额旁边。",
    "counterparty": "请只写一个交易对手，并写在货币对之后。",
    "instrument": f"哪个货币对或债券？请一次只发一个，{EXAMPLE}。",
    "side": "同时看到买入和卖出。请每条消息只发一个订单。",
    "order_type": "请说明是市价单、限价单还是止损单（聊天中不接止损限价单和带价格的掉期）。",
    "quote": "询价没有止损价或有效期。",
    "info": "您要查询信息还是交易？请只选一个。",
    "amend": "要改什么？例如「ORD-42 改成 200万」。",
    "amend_instrument": "修改不能换货币对或产品。请取消后重新下单。",
    "ref": "请一次只写一个订单编号，例如「取消 ORD-42」。",
    "command": "您是要确认还是取消？请回复 c 确认或 x 取消。",
    "too_long": f"这条消息太长，无法作为一条指令。请发一条简短的指令，{EXAMPLE}。",
}
_CURRENCY = {
    "EUR": "欧元", "USD": "美元", "JPY": "日元", "GBP": "英镑", "AUD": "澳元", "HKD": "港币",
    "CNY": "人民币", "CNH": "离岸人民币", "CHF": "瑞郎", "CAD": "加元", "NZD": "纽元",
    "SGD": "新加坡元", "KRW": "韩元", "TWD": "新台币", "INR": "印度卢比", "XAU": "黄金",
    "XAG": "白银",
}  # fmt: skip
_TENOR = {"SPOT": "即期", "TOD": "当日", "TOM": "明日"}
_UNIT = {"W": "周", "M": "个月", "Y": "年"}
_TIF = {
    "GTC": "撤单前有效",
    "DAY": "当日有效",
    "IOC": "立即成交否则取消",
    "FOK": "全部成交否则取消",
}
_READER = Parser()


def reason_zh(reason: str) -> str:
    """A reason the catalogue has no Chinese for: said to be unclear, the English kept."""
    return f"订单内容不清楚（{reason}）"


def currency_zh(code: str) -> str:
    return _CURRENCY.get(code, code)


def tenor_zh(tenor: str | None) -> str:
    if tenor is None:
        return ""
    if tenor in _TENOR:
        return _TENOR[tenor]
    if tenor[-1] in _UNIT and tenor[:-1].isdigit():
        return tenor[:-1] + _UNIT[tenor[-1]]
    return tenor


def order_zh(line: str, *, past: bool = False) -> str:
    """`BUY 1,000,000 EUR vs USD 1W at market with 360T` -> `买入 1,000,000 欧元兑美元 1周 市价，
    交易对手 360T`; the line unchanged when it is not an order line."""
    intent = _READER.parse(line)
    if intent.intent is not IntentKind.ORDER or intent.side is None or intent.quantity is None:
        return line
    verb = {"buy": "买入", "sell": "卖出"}[intent.side.value] + ("了" if past else "")
    return f"{verb} {_what(intent, line)}" + ("" if past else _how(intent))


def _what(intent: Intent, line: str) -> str:
    amount = next(word for word in line.split() if word[0].isdigit())
    if intent.pair is None:
        return f"面值 {amount} 的债券 {intent.isin}"
    base, quote = intent.pair.split("/")
    base_zh, quote_zh = _CURRENCY.get(base, base), _CURRENCY.get(quote, quote)
    if intent.dealt_currency in (None, base):
        what = f"{amount} {base_zh}兑{quote_zh}"
    else:
        what = f"{base_zh}兑 {amount} {quote_zh}"
    if intent.far_tenor is not None:
        return f"{what} 掉期 {tenor_zh(intent.near_tenor)} 对 {tenor_zh(intent.far_tenor)}"
    if intent.product is not None and intent.product.value == "ndf":
        return f"{what} {tenor_zh(intent.tenor)} 无本金交割远期"
    return f"{what} {tenor_zh(intent.tenor)}"


def _how(intent: Intent) -> str:
    if intent.stop_price is not None:
        how = f" 止损价 {intent.stop_price}"
    elif intent.limit_price is not None:
        how = f" 限价 {intent.limit_price}"
    else:
        how = " 市价"
    if intent.time_in_force is not None:
        tif = intent.time_in_force.value
        how += f" {intent.expire_date}前有效" if tif == "GTD" else f" {_TIF[tif]}"
    if intent.counterparty:
        how += f"，交易对手 {intent.counterparty}"
    return how
