"""The end-to-end stack: the real dev server (the module's `server` fixture), the fake Discord on
loopback, and `python worker.py` as a child process. Used through the `stack` fixture."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from local_discord import FakeDiscord
from stack.devserver import DevServer
from tests.support.temporal import connect_client
from tests.support.worker_process import WorkerProcess

# One guild with a channel, the same in every end-to-end test (tests add more where they need).
GUILD, CHANNEL = 7001, 7002


@dataclass
class Stack:
    server: DevServer
    client: Client
    discord: FakeDiscord
    worker: WorkerProcess

    @property
    def task_queue(self) -> str:
        return self.worker.task_queue


@asynccontextmanager
async def running_stack(
    server: DevServer, log_dir: Path, channels: Iterable[tuple[int, int]] = ((CHANNEL, GUILD),)
) -> AsyncIterator[Stack]:
    """Fake Discord with `channels` (channel, guild), and a worker on a task queue of its own.
    On the way out: the worker is stopped and the fake must have seen no invalid request."""
    async with FakeDiscord() as fake:
        for channel, guild in channels:
            fake.add_channel(channel, guild)
        async with WorkerProcess(
            temporal_address=server.address,
            task_queue=f"e2e-{uuid.uuid4().hex[:8]}",
            discord_api_base=fake.base_url,
            log_dir=log_dir,
        ) as worker:
            yield Stack(server, await connect_client(server), fake, worker)
        fake.assert_no_violations()
