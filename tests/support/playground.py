"""The whole bot on loopback, as `make run` starts it without a token: the real dev server, the
playground (the local Discord with its gateway, in this test's event loop), `python worker.py`
and `python -m bot`, the bot talking to the playground over HTTP and the gateway.

Tests act as the playground's members (`command`, `click`, `submit`) and read what each sees.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from temporalio.client import Client

from local_discord.interactions import Interaction
from local_discord.playground import GUILD_ID, Playground
from stack.devserver import DevServer
from tests.support.temporal import connect_client
from tests.support.worker_process import WorkerProcess, running

TOKEN = "playground-test-token"
# Whisper text is sealed with a key the bot and the worker hold (see stack/settings.py).
WHISPER_KEY = base64.b64encode(bytes(range(100, 132))).decode()


class BotProcess(WorkerProcess):
    """`python -m bot`, ready once it has identified on the playground's gateway and synced its
    commands."""

    NAME = "bot"
    ARGS = ("-m", "bot")

    def __init__(
        self,
        playground: Playground,
        *,
        temporal_address: str,
        task_queue: str,
        discord_api_base: str,
        log_dir: Path,
    ) -> None:
        super().__init__(
            temporal_address=temporal_address,
            task_queue=task_queue,
            discord_api_base=discord_api_base,
            log_dir=log_dir,
        )
        self.playground = playground
        self.sessions_before = 0

    def start(self) -> None:
        self.sessions_before = len(self.playground.gateway.sessions)
        super().start()

    async def wait_started(self, timeout: float | None = None) -> None:
        gateway = self.playground.gateway
        async with asyncio.timeout(self.start_timeout if timeout is None else timeout):
            while len(gateway.sessions) <= self.sessions_before or not gateway.connected():
                self.check_running()
                await asyncio.sleep(0.05)
            while GUILD_ID not in self.playground.interactions.commands:
                await asyncio.sleep(0.05)


@dataclass
class PlaygroundStack:
    server: DevServer
    client: Client
    discord: Playground
    worker: WorkerProcess
    bot: BotProcess
    state_file: Path | None = None

    @property
    def task_queue(self) -> str:
        return self.worker.task_queue

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

    def close_forms(self) -> int:
        """Dismiss every form (modal) still open, as its member's Cancel would; how many were.
        The page shows an open form on every load, so one a failed test left would block the next."""
        left = [i for i in self.discord.interactions.by_id.values() if i.modal_open]
        for interaction in left:
            self.discord.interactions.dismiss(interaction.id)
        return len(left)

    async def restart(self) -> None:
        """Everything stopped and started again, as a restart of `make run`: the bot and the worker
        (SIGTERM), the local Discord (a new one on the same port, its world read back from the state
        file), the Temporal server (the same database)."""
        assert self.state_file is not None, "a restart keeps the world only with a state file"
        self.bot.stop()
        self.worker.stop()
        port = urlsplit(self.discord.url).port
        await self.discord.stop()
        self.discord.assert_no_violations()
        await self.server.restart()
        self.discord = Playground(token=TOKEN, state_file=self.state_file, port=port)
        await self.discord.start()
        self.bot.playground = self.discord
        self.worker.start()
        self.bot.start()
        await asyncio.gather(self.worker.wait_started(), self.bot.wait_started())

    async def restart_bot(self, *, crash: bool) -> None:
        """kill -9 (crash) or SIGTERM the bot, then start a new bot process and wait for it to join."""
        if crash:
            self.bot.kill()
        else:
            self.bot.stop()
        await self.bot.start_and_wait()


@asynccontextmanager
async def playground_stack(
    server: DevServer, log_dir: Path, *, state_file: Path | None = None
) -> AsyncIterator[PlaygroundStack]:
    """The stack; with `state_file`, the local Discord keeps its world there (`make run`'s
    `.data/playground.json`), so `restart()` can stop and start everything."""
    play = Playground(token=TOKEN, state_file=state_file)
    stack: PlaygroundStack | None = None
    await play.start()
    try:
        queue = f"play-{uuid.uuid4().hex[:8]}"
        worker = WorkerProcess(
            temporal_address=server.address, task_queue=queue, discord_api_base=play.base_url, log_dir=log_dir
        )
        bot = BotProcess(
            play,
            temporal_address=server.address,
            task_queue=queue,
            discord_api_base=play.base_url,
            log_dir=log_dir,
        )
        for process in (worker, bot):
            process.env.update(
                DISCORD_TOKEN=TOKEN,
                DISCORD_DEV_GUILD=str(GUILD_ID),
                WHISPER_KEYS=WHISPER_KEY,
                # A minute typed in the Safari modal lasts a second here.
                SAFARI_MINUTE_SECONDS="1",
            )
        async with running(worker, bot):
            stack = PlaygroundStack(server, await connect_client(server), play, worker, bot, state_file)
            yield stack
    finally:
        # The local Discord running at the end: a restart replaced the first.
        await (stack.discord if stack else play).stop()
    stack.discord.assert_no_violations()
