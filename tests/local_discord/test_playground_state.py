"""The playground keeps its world across restarts: messages with their buttons, DMs and webhooks
come back, so what a member was shown before `make run` restarted can still be clicked after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
from discord.http import Route

from local_discord.playground import CHANNELS, PLAYER_ID, Playground

GENERAL = next(iter(CHANNELS))


@pytest.fixture
def route_base() -> Iterator[None]:
    old = Route.BASE
    yield
    Route.BASE = old


class Join(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(discord.ui.Button(label="Join", custom_id="season:join"))


async def bot_client(play: Playground) -> discord.Client:
    Route.BASE = play.base_url
    client = discord.Client(intents=discord.Intents.none())
    await client.login("token")
    return client


async def test_messages_buttons_and_dms_survive_a_restart(tmp_path: Path, route_base: None) -> None:
    state = tmp_path / "playground.json"
    async with Playground(state_file=state) as play:
        client = await bot_client(play)
        channel = await client.fetch_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        posted = await channel.send("A new season is open", view=Join())
        opened = await client.http.start_private_message(PLAYER_ID)
        await client.get_partial_messageable(int(opened["id"])).send("Your turn: claim it")
        await client.close()

    async with Playground(state_file=state) as play:
        client = await bot_client(play)
        channel = await client.fetch_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        kept = await channel.fetch_message(posted.id)
        assert kept.content == "A new season is open"
        assert kept.content == "A new season is open"
        assert [c["custom_id"] for row in play.message(kept.id).components for c in row["components"]] == [
            "season:join"
        ]
        seen = play.state(PLAYER_ID)
        assert [m["content"] for m in seen["dms"]] == ["Your turn: claim it"]
        newer = await channel.send("after the restart")
        assert newer.id > posted.id
        await client.close()


async def test_an_unreadable_saved_world_is_kept_aside_and_the_playground_starts_empty(
    tmp_path: Path,
) -> None:
    state = tmp_path / "playground.json"
    state.write_text("{not json", encoding="utf-8")
    async with Playground(state_file=state) as play:
        assert play.messages(GENERAL) == []
    assert (tmp_path / "playground.json.unreadable").read_text(encoding="utf-8") == "{not json"
