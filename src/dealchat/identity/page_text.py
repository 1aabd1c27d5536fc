"""The words of the bank's secure pages in the client's language: English, or Chinese in the
script her chat used (`zh-Hans`, `zh-Hant`). A page speaks the language of the chat that asked for
its link (`SecureLink.language`); a page with no link to go by (an unknown or spent one) follows
the browser's Accept-Language. Pure."""

from __future__ import annotations

from dealchat.nlu.language import HANS, HANT, in_script

# English -> simplified Chinese; traditional is converted from it (OpenCC s2t).
_ZH = {
    "dealchat secure page": "dealchat 安全页面",
    "This is the bank's own page. Never type your password into a chat.":
        "这是银行自己的页面。请勿在聊天中输入您的密码。",
    "Username": "用户名",
    "Password": "密码",
    "Authenticator code": "验证码",
    "Continue": "继续",
    "Log in to link this chat to your account.": "请登录，将此聊天绑定到您的账户。",
    "Approve the order waiting in your chat with your password and authenticator code.":
        "请用您的密码和验证码批准聊天中等待确认的订单。",
    "This links your chat on {channel}, <strong>{handle}</strong>, to your account.":
        "这会将您在 {channel} 上的聊天 <strong>{handle}</strong> 绑定到您的账户。",
    "Asked for in your chat on {channel}, <strong>{handle}</strong>.":
        "来自您在 {channel} 上的聊天 <strong>{handle}</strong>。",
    "The order you approve": "您批准的订单",
    "The change you approve is the one described in your chat just now.":
        "您批准的是刚才在聊天中描述的更改。",
    "Login failed. Check your username, password and authenticator code.":
        "登录失败。请检查您的用户名、密码和验证码。",
    "This link is invalid, used or expired. Ask the bot for a new one.":
        "此链接无效、已使用或已过期。请在聊天中重新索取。",
    "Approved. Go back to the chat and reply c to confirm.": "已批准。请回到聊天并回复 c 确认。",
    "You are logged in. Go back to the chat and send your request.":
        "您已登录。请回到聊天并重新发送您的请求。",
}  # fmt: skip


def say(text: str, language: str | None) -> str:
    """`text` in `language`; English when there is no Chinese for it."""
    if language not in (HANS, HANT) or text not in _ZH:
        return text
    return in_script(_ZH[text], language)


def html_lang(language: str | None) -> str:
    return language if language in (HANS, HANT) else "en"


def from_browser(accept_language: str) -> str | None:
    """The Chinese script a browser prefers first, if its first choice is Chinese."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip().lower()
    if not first.startswith("zh"):
        return None
    traditional = ("hant", "-tw", "-hk", "-mo")
    return HANT if any(mark in first for mark in traditional) else HANS
