"""Running the bot beside the web server: its own thread and event loop, started and stopped.

`MatrixRunner.start()` logs in (raising `MatrixLoginError` at once when the homeserver refuses) and
syncs in the background, handing messages to the sink; `stop()` cancels the sync and closes the
connection. `adapter()` is the `ChannelAdapter` the outbox dispatcher delivers Matrix replies with.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Sequence
from pathlib import Path

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import InboundSink, OutboundMessage
from dealchat.channels.matrix.adapter import MatrixAdapter
from dealchat.channels.matrix.bot import MatrixBot
from dealchat.channels.matrix.sender import SendReport
from dealchat.channels.matrix.session import log_in, new_client
from dealchat.channels.matrix.state import StateStore
from dealchat.settings import MatrixSettings

START_TIMEOUT = 60.0


def state_dir(platform: Platform) -> Path:
    return platform.settings.data_dir / "matrix"


class MatrixRunner:
    def __init__(
        self, platform: Platform, sink: InboundSink, settings: MatrixSettings | None = None
    ) -> None:
        self.platform, self.sink = platform, sink
        self.settings = settings or platform.settings.matrix
        self.bot: MatrixBot | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._started: concurrent.futures.Future[None] = concurrent.futures.Future()

    def start(self) -> MatrixRunner:
        self._thread = threading.Thread(target=self._main, name="matrix-bot", daemon=True)
        self._thread.start()
        self._started.result(timeout=START_TIMEOUT)  # re-raises a login failure here
        return self

    def stop(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> MatrixRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def adapter(self) -> MatrixAdapter:
        return MatrixAdapter(self)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        client = new_client(self.settings)
        state = StateStore(state_dir(self.platform))

        async def relogin() -> str:
            return await log_in(client, self.settings, state)

        try:
            await relogin()
            self.bot = MatrixBot(
                client, settings=self.settings, sink=self.sink, state=state, relogin=relogin
            )
            self._started.set_result(None)
            await self.bot.run_forever()
        except asyncio.CancelledError:
            pass
        except BaseException as error:
            if not self._started.done():
                self._started.set_exception(error)
            raise
        finally:
            await client.close()

    def send(
        self, room_id: str, messages: Sequence[OutboundMessage], *, timeout: float = 120.0
    ) -> SendReport:
        """From another thread: send through the bot's loop and wait for the outcome."""
        if self._loop is None or self.bot is None:
            raise RuntimeError("the Matrix bot is not running")
        sending = self.bot.sender.send(room_id, list(messages))
        future = asyncio.run_coroutine_threadsafe(sending, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise RuntimeError(f"sending to {room_id} took over {timeout:.0f} s") from None
