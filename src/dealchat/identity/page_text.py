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
    # the client's password reset (identity/reset_views.py)
    "Forgot your password? First show it is you with the code from your authenticator app.":
        "忘记密码了？请先输入验证器应用中的验证码，证明是您本人。",
    "Forgot your password? First show it is you with the code we send to your phone by SMS.":
        "忘记密码了？请先输入我们通过短信发送到您手机的验证码，证明是您本人。",
    "A code was sent by SMS to {phone}. It is valid 5 minutes.":
        "验证码已通过短信发送到 {phone}，5 分钟内有效。",
    "Send me a code by SMS": "通过短信发送验证码",
    "SMS code": "短信验证码",
    "Now choose your new password: at least {shortest} characters, at most {longest}. "
    "A phrase of several words is good; common passwords are refused.":
        "现在请设置新密码：至少 {shortest} 个字符，最多 {longest} 个字符。"
        "建议使用由几个词组成的短语；常见密码会被拒绝。",
    "New password": "新密码",
    "New password again": "再次输入新密码",
    "That code did not match. Try the newest code.": "验证码不正确。请使用最新的验证码。",
    "The two passwords differ. Type the same one twice.": "两次输入的密码不一致。请输入相同的密码。",
    "Your password is changed. Go back to the chat and log in with it.":
        "您的密码已更改。请回到聊天，用新密码登录。",
    "password: at least 8 characters": "密码：至少 8 个字符",
    "password: at most 128 characters": "密码：最多 128 个字符",
    "password: too common (it is on a list of leaked passwords)":
        "密码：过于常见（它在泄露密码列表中）",
    "password: must not contain the username": "密码：不能包含用户名",
    "password: must not contain the service's name": "密码：不能包含服务名称",
    "password: must not be one character repeated": "密码：不能是同一个字符的重复",
    "Too many codes sent. Try again later.": "发送的验证码太多。请稍后再试。",
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
