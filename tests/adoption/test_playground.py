"""`/admin export` with the real bot process on the playground (the local Discord): the command
syncs, the host (an admin there) gets the export's reply, a player is refused. The local Discord
keeps no file on an interaction's follow-up; tests/adoption/test_bot.py reads the file itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from local_discord.playground import CHANNELS, HOST_ID, PLAYER_ID
from stack.devserver import DevServer
from tests.support.playground import PlaygroundStack, playground_stack
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

GENERAL = next(iter(CHANNELS))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def play(server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PlaygroundStack]:
    async with playground_stack(server, Path(tmp_path_factory.mktemp("admin"))) as running:
        yield running


def saw(play: PlaygroundStack, user_id: int, text: str) -> bool:
    return any(text in str(m.get("content")) for m in play.seen(user_id, GENERAL))


async def test_the_host_exports_the_server_and_a_player_is_refused(play: PlaygroundStack) -> None:
    used = await play.command(HOST_ID, GENERAL, "admin export")
    assert used.refused == []
    await eventually(lambda: saw(play, HOST_ID, "📦 This server's data: 0 custom actions"), 20)
    assert not saw(play, PLAYER_ID, "This server's data")  # ephemeral: the host's alone

    refused = await play.command(PLAYER_ID, GENERAL, "admin export")
    assert refused.refused == []
    await eventually(lambda: saw(play, PLAYER_ID, "Only a server admin (Manage Server) can export"), 20)
