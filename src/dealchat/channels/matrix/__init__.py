"""The Matrix channel: a bot account on a homeserver (matrix-nio) that answers in rooms.

`bot.MatrixBot` syncs, accepts allowed invites and hands each new text message to
`conversations.desk.handle_inbound`; `sender.Sender` delivers the replies with retries and
rate-limit handling; `runner.MatrixRunner` runs the bot beside the web server (`dealchat serve`).
"""
