"""Listing a guild's running chains (visibility, so on the real dev server) through the facade and
`/challenge list`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from simcord import assert_message
from temporalio.client import Client

from clients.challenges import Challenges
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.challenges_doubles import round_
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[World]:
    # No worker: a listing needs none, and the chains only wait.
    async with bot_env(client, f"list-{uuid.uuid4().hex[:8]}") as w:
        yield w


async def test_running_chains_are_listed_per_guild(world: World, client: Client) -> None:
    w = world
    chains = Challenges(client, w.task_queue)
    empty = answered(await w.player.slash(w.channel, "challenge list"))
    assert_message(last_reply(empty), contains="No challenge chain is running", ephemeral=True)
    for key, title in (("b-quiz", "Quiz"), ("a-hunt", "Photo hunt")):
        await chains.create(
            key=key,
            title=title,
            guild_id=w.guild.id,
            channel_id=w.channel.id,
            host_id=w.host.id,
            rounds=[round_("Round 1", timedelta(hours=1))],
        )
    await chains.create(
        key="elsewhere",
        title="Other",
        guild_id=w.guild.id + 1,
        channel_id=w.channel.id,
        host_id=w.host.id,
        rounds=[round_("Round 1", timedelta(hours=1))],
    )

    async def both_listed() -> bool:
        return [c.key for c in await chains.running(w.guild.id)] == ["a-hunt", "b-quiz"]

    await eventually(both_listed)
    listed = last_reply(answered(await w.player.slash(w.channel, "challenge list")))
    assert listed.content.index("`a-hunt` **Photo hunt**") < listed.content.index("`b-quiz` **Quiz**")
    assert "elsewhere" not in listed.content
    for key in ("a-hunt", "b-quiz"):
        await client.get_workflow_handle(f"challenge-{w.guild.id}-{key}").terminate()
    await client.get_workflow_handle(f"challenge-{w.guild.id + 1}-elsewhere").terminate()
