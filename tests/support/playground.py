"""The whole bot on loopback, as `make run` starts it without a token: the real dev server, the
playground (the local Discord with its gateway, in this test's event loop), `python worker.py`
and `python -m bot`, the bot talking to the playground over HTTP and the gateway.

Tests act as the playground's members (`command`, `click`, `submit`) and read what each sees.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from local_discord.interactions import Interaction
from local_discord.playground import GUILD_ID, Playground
from stack.devserver import DevServer
from tests.support.temporal import connect_client
from tests.support.worker_process import WorkerProcess

TOKEN = "playground-test-token"
# Whisper text is sealed with a key the bot and the worker hold (see stack/settings.py).
WHISPER_KEY = base64.b64encode(bytes(range(100, 132))).decode()


class BotProcess(WorkerProcess):
    """`python -m bot`, ready once it has identified on the gateway and synced its commands."""

    NAME = "bot"
    ARGS = ("-m", "bot")

    async def wait_joined(self, playground: Playground, sessions_before: int, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while len(playground.gateway.sessions) <= sessions_before or not playground.gateway.connected():
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"bot exited with {self.proc.returncode}:\n{self.log()}")
                await asyncio.sleep(0.05)
            while GUILD_ID not in playground.interactions.commands:
                await asyncio.sleep(0.05)

    def start_and_join(self, playground: Playground) -> Callable[[], Any]:
        before = len(playground.gateway.sessions)
        self.start()
        return lambda: self.wait_joined(playground, before)


@dataclass
class PlaygroundStack:
    server: DevServer
    client: Client
    discord: Playground
    worker: WorkerProcess
    bot: BotProcess

    @property
    def task_queue(self) -> str:
        return self.worker.env["TEMPORAL_TASK_QUEUE"]

    async def command(
        self, user_id: int, channel_id: int, path: str, options: Mapping[str, Any] | None = None
    ) -> Interaction:
        used = await self.discord.interactions.command(user_id, channel_id, path, options)
        return await self.discord.interactions.wait_answered(used, timeout=15)

    async def click(self, user_id: int, message_id: int, custom_id: str) -> Interaction:
        used = await self.discord.interactions.click(user_id, message_id, custom_id)
        return await self.discord.interactions.wait_answered(used, timeout=15)

    async def submit(self, opened: Interaction, values: Mapping[str, str]) -> Interaction:
        used = await self.discord.interactions.submit(opened.id, values)
        return await self.discord.interactions.wait_answered(used, timeout=15)

    def seen(self, user_id: int, channel_id: int) -> list[dict[str, Any]]:
        """The channel's messages as the member sees them (their ephemerals included)."""
        return self.discord.visible(user_id, channel_id)

    async def restart_bot(self, *, crash: bool) -> None:
        """kill -9 (crash) or SIGTERM the bot, then start a new bot process and wait for it to join."""
        if crash:
            self.bot.kill()
        else:
            self.bot.stop()
        await self.bot.start_and_join(self.discord)()


@asynccontextmanager
async def playground_stack(server: DevServer, log_dir: Path) -> AsyncIterator[PlaygroundStack]:
    async with Playground(token=TOKEN) as play:
        common = {
            "temporal_address": server.address,
            "task_queue": f"play-{uuid.uuid4().hex[:8]}",
            "discord_api_base": play.base_url,
            "log_dir": log_dir,
        }
        worker, bot = WorkerProcess(**common), BotProcess(**common)
        for process in (worker, bot):
            process.env.update(
                DISCORD_TOKEN=TOKEN,
                DISCORD_DEV_GUILD=str(GUILD_ID),
                WHISPER_KEYS=WHISPER_KEY,
                # A minute typed in the Safari modal lasts a second here.
                SAFARI_MINUTE_SECONDS="1",
            )
        worker.start()
        joined = bot.start_and_join(play)
        try:
            await worker.wait_started()
            await joined()
            yield PlaygroundStack(server, await connect_client(server), play, worker, bot)
        finally:
            bot.stop()
            worker.stop()
        play.assert_no_violations()
