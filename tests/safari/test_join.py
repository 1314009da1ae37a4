"""Joining from the panel, through the bot (simcord), on the real dev server with a worker."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients import safari as safari_client
from clients.safari import load_game, safari_store
from tests.support.bot_harness import answered, bot_env, last_reply
from tests.support.jobs_doubles import Doubles
from worker import build_worker
from workflows.safari_engine import GAME_KEY, SafariSettings, new_game

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_join_is_refused_with_a_reason_when_full_or_over(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safari_client, "MAX_PLAYERS", 1)
    queue = f"join-{uuid.uuid4().hex[:8]}"
    doubles = Doubles(WorkflowEnvironment.from_client(client))
    async with build_worker(client, queue, doubles.activities()), bot_env(client, queue) as w:
        # simcord's guild ids repeat across modules: start from a game of this test's own.
        store = await safari_store(client, w.guild.id, queue)
        for key in await store.keys():
            await store.delete(key)
        panel = last_reply(answered(await w.host.slash(w.channel, "safari panel")))

        first = last_reply(answered(await w.player.click(panel, label="Join")))
        assert first.ephemeral and first.content == "🙋 You joined the Safari!"
        full = last_reply(answered(await w.other_player.click(panel, label="Join")))
        assert full.ephemeral
        assert full.content == "You could not join: the Safari is full: it takes at most 1 players"
        game = await load_game(store)
        assert game is not None and list(game.players) == [w.player.id]

        over = new_game(w.guild.id, SafariSettings(total_rounds=1)).model_copy(update={"current_round": 2})
        await store.set(GAME_KEY, over.model_dump(mode="json"))
        late = last_reply(answered(await w.other_player.click(panel, label="Join")))
        assert late.content == "You could not join: the Safari is over: nobody can join any more"
