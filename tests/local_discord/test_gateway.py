"""The local Discord's gateway and interactions, driven by discord.py itself (in process) and by a
raw websocket where discord.py would hide what is checked."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.http import Route

from bot.modals import modal_values
from local_discord.gateway import AUTHENTICATION_FAILED, HELLO, IDENTIFY, INVALID_SESSION, RESUME
from local_discord.interactions import DEFERRED_MESSAGE, MESSAGE, MODAL, InteractionError, Interactions
from local_discord.playground import CHANNELS, GUILD_ID, HOST_ID, OTHER_PLAYER_ID, PLAYER_ID, Playground

CHANNEL = next(iter(CHANNELS))
TOKEN = "local-token"


class Clock:
    """The local Discord's clock, moved by hand: the 3-second rule without waiting 3 seconds."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def route_base() -> Iterator[None]:
    old = Route.BASE
    yield
    Route.BASE = old


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def playground(route_base: None, clock: Clock) -> AsyncIterator[Playground]:
    play = Playground(token=TOKEN, clock=clock)
    async with play:
        Route.BASE = play.base_url
        yield play
        play.assert_no_violations()


class TinyBot(discord.AutoShardedClient):
    """A discord.py bot with a few commands whose answers the tests inspect."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.release = asyncio.Event()
        self.errors: list[BaseException] = []
        tree = self.tree

        @tree.command(name="ping", description="Answers privately")
        async def ping(interaction: discord.Interaction, word: str) -> None:
            await interaction.response.send_message(f"pong {word}", ephemeral=True)

        @tree.command(name="slow", description="Answers after being released")
        async def slow(interaction: discord.Interaction) -> None:
            await self.release.wait()
            try:
                await interaction.response.send_message("too late?")
            except discord.HTTPException as err:
                self.errors.append(err)

        @tree.command(name="think", description="Defers, then follows up")
        async def think(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send("thought it through", ephemeral=True)
            await interaction.followup.send("and one more thing", ephemeral=True)

        @tree.command(name="ask", description="Opens a modal")
        async def ask(interaction: discord.Interaction) -> None:
            modal = discord.ui.Modal(title="Your name", custom_id="ask:modal")
            modal.add_item(discord.ui.TextInput(label="Name", custom_id="name"))

            async def on_submit(submitted: discord.Interaction) -> None:
                data: Mapping[str, Any] = submitted.data or {}
                values = modal_values(data.get("components") or [])
                await submitted.response.send_message(f"hello {values['name']}")

            modal.on_submit = on_submit  # type: ignore[method-assign]
            await interaction.response.send_modal(modal)

        @tree.command(name="draw", description="Takes a picture")
        async def draw(interaction: discord.Interaction, picture: discord.Attachment) -> None:
            await interaction.response.send_message(f"got {picture.filename} {picture.content_type}")

        @tree.command(name="upload", description="Opens a modal with a file field")
        async def upload(interaction: discord.Interaction) -> None:
            modal = discord.ui.Modal(title="Your drawing", custom_id="upload:modal")
            modal.add_item(discord.ui.Label(text="Image", component=discord.ui.FileUpload(custom_id="image")))

            async def on_submit(submitted: discord.Interaction) -> None:
                data: Mapping[str, Any] = submitted.data or {}
                files = data.get("resolved", {}).get("attachments", {})
                await submitted.response.send_message(" ".join(a["filename"] for a in files.values()))

            modal.on_submit = on_submit  # type: ignore[method-assign]
            await interaction.response.send_modal(modal)

    async def setup_hook(self) -> None:
        self.tree.copy_global_to(guild=discord.Object(GUILD_ID))
        await self.tree.sync(guild=discord.Object(GUILD_ID))


@pytest_asyncio.fixture
async def bot(playground: Playground) -> AsyncIterator[TinyBot]:
    client = TinyBot()
    task = asyncio.create_task(client.start(TOKEN))
    await playground.gateway.wait_connected()
    await _until(lambda: bool(playground.interactions.commands))
    yield client
    await client.close()
    task.cancel()


async def _until(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_the_bot_identifies_and_gets_its_guild_with_channels_and_roles(
    playground: Playground, bot: TinyBot
) -> None:
    await _until(lambda: bot.get_guild(GUILD_ID) is not None)
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and guild.name == "Playground"
    assert sorted(c.name for c in guild.text_channels) == ["events", "general", "safari"]
    assert "Game Masters" in [r.name for r in guild.roles]
    assert guild.me.guild_permissions.manage_webhooks
    assert sorted(c["name"] for c in playground.interactions.commands[GUILD_ID]) == [
        "ask",
        "draw",
        "ping",
        "slow",
        "think",
        "upload",
    ]


async def test_an_ephemeral_answer_is_seen_by_its_user_only(playground: Playground, bot: TinyBot) -> None:
    used = await playground.interactions.command(PLAYER_ID, CHANNEL, "ping", {"word": "hi"})
    await playground.interactions.wait_answered(used)
    assert used.response_type == MESSAGE
    assert [m["content"] for m in playground.visible(PLAYER_ID, CHANNEL)] == ["pong hi"]
    assert playground.visible(OTHER_PLAYER_ID, CHANNEL) == []


async def test_a_first_answer_after_three_seconds_is_refused_as_discord_does(
    playground: Playground, bot: TinyBot, clock: Clock
) -> None:
    used = await playground.interactions.command(HOST_ID, CHANNEL, "slow")
    clock.now += 3.5  # the bot took too long
    bot.release.set()
    await _until(lambda: bool(bot.errors))
    [error] = bot.errors
    assert isinstance(error, discord.NotFound) and error.code == 10062
    assert used.response_type is None and playground.visible(HOST_ID, CHANNEL) == []
    playground.violations.clear()  # the bot's late answer was the point of this test


async def test_the_first_followup_after_a_defer_replaces_the_thinking_message(
    playground: Playground, bot: TinyBot
) -> None:
    used = await playground.interactions.command(PLAYER_ID, CHANNEL, "think")
    await _until(lambda: len(used.followup_ids) == 1)
    assert used.response_type == DEFERRED_MESSAGE
    shown = playground.visible(PLAYER_ID, CHANNEL)
    assert [(m["content"], m["ephemeral"], m["thinking"]) for m in shown] == [
        ("thought it through", True, False),
        ("and one more thing", True, False),
    ]


async def test_a_modal_opens_and_its_submission_reaches_the_bot(playground: Playground, bot: TinyBot) -> None:
    opened = await playground.interactions.command(HOST_ID, CHANNEL, "ask")
    await playground.interactions.wait_answered(opened)
    assert opened.response_type == MODAL and opened.modal is not None
    submitted = await playground.interactions.submit(opened.id, {"name": "Hana"})
    await playground.interactions.wait_answered(submitted)
    assert [m["content"] for m in playground.visible(PLAYER_ID, CHANNEL)] == ["hello Hana"]


async def test_an_unknown_command_or_option_is_refused_before_the_bot_sees_it(
    playground: Playground, bot: TinyBot
) -> None:
    book: Interactions = playground.interactions
    with pytest.raises(ValueError, match="not a command"):
        await book.command(HOST_ID, CHANNEL, "nope")
    with pytest.raises(ValueError, match="word is required"):
        await book.command(HOST_ID, CHANNEL, "ping")
    with pytest.raises(ValueError, match="no option colour"):
        await book.command(HOST_ID, CHANNEL, "ping", {"word": "x", "colour": "red"})
    assert book.by_id == {}


async def test_a_second_answer_to_one_interaction_is_refused(playground: Playground, bot: TinyBot) -> None:
    used = await playground.interactions.command(PLAYER_ID, CHANNEL, "ping", {"word": "once"})
    await playground.interactions.wait_answered(used)
    url = f"{playground.base_url}/interactions/{used.id}/{used.token}/callback"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"type": 4, "data": {"content": "twice"}}) as r,
    ):
        assert (r.status, (await r.json())["code"]) == (400, 40060)


async def test_a_bad_token_is_refused_and_a_resume_replays_what_was_missed(playground: Playground) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(playground.gateway.url) as ws:
            assert (await ws.receive_json())["op"] == HELLO
            await ws.send_json({"op": IDENTIFY, "d": {"token": "wrong", "intents": 1}})
            closed = await ws.receive()
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == AUTHENTICATION_FAILED

        async with http.ws_connect(playground.gateway.url) as ws:
            await ws.receive_json()
            await ws.send_json({"op": IDENTIFY, "d": {"token": TOKEN, "intents": 1}})
            ready = await ws.receive_json()
            guild = await ws.receive_json()
            assert (ready["t"], guild["t"]) == ("READY", "GUILD_CREATE")
            session, seq = ready["d"]["session_id"], guild["s"]
        # While the bot is away an event is kept for it ...
        playground.gateway.sessions[session].ready.set()
        await playground.gateway._send_event(playground.gateway.sessions[session], "TEST_EVENT", {"n": 1})
        # ... and a resume delivers it, then RESUMED; an unknown session is told to identify again.
        async with http.ws_connect(playground.gateway.url) as ws:
            await ws.receive_json()
            await ws.send_json({"op": RESUME, "d": {"token": TOKEN, "session_id": session, "seq": seq}})
            missed, resumed = await ws.receive_json(), await ws.receive_json()
            assert (missed["t"], missed["d"], resumed["t"]) == ("TEST_EVENT", {"n": 1}, "RESUMED")
        async with http.ws_connect(playground.gateway.url) as ws:
            await ws.receive_json()
            await ws.send_json({"op": RESUME, "d": {"token": TOKEN, "session_id": "gone", "seq": 0}})
            assert json.loads((await ws.receive()).data)["op"] == INVALID_SESSION


async def test_heartbeats_are_acknowledged_as_discord_does(route_base: None, clock: Clock) -> None:
    """discord.py measures a beat from the moment its keep-alive thread saw the send finish; an
    acknowledgement faster than that reads as a whole interval late ("Can't keep up ... 41.3s behind")."""
    async with Playground(token=TOKEN, clock=clock) as play:
        Route.BASE = play.base_url
        play.gateway.heartbeat_interval_ms = 100
        client = TinyBot()
        task = asyncio.create_task(client.start(TOKEN))
        try:
            await play.gateway.wait_connected()
            seen: list[float] = []
            for _ in range(150):  # 3 s: about 30 beats
                await asyncio.sleep(0.02)
                if math.isfinite(client.latency):  # not until the first acknowledgement
                    seen.append(client.latency)
            assert seen
            assert max(seen) < 0.09, f"a beat measured as late as the interval: {max(seen):.3f} s"
        finally:
            await client.close()
            task.cancel()


async def test_an_attachment_option_takes_an_uploaded_file_never_text(
    playground: Playground, bot: TinyBot
) -> None:
    with pytest.raises(InteractionError, match="upload a file"):
        await playground.interactions.command(PLAYER_ID, CHANNEL, "draw", {"picture": "cat.png"})
    cat = playground.interactions.upload("cat.png", "image/png", b"\x89PNG fake")
    used = await playground.interactions.command(PLAYER_ID, CHANNEL, "draw", {"picture": str(cat.id)})
    await playground.interactions.wait_answered(used)
    assert playground.messages(CHANNEL)[-1].content == "got cat.png image/png"


async def test_a_modal_file_field_carries_the_uploaded_file(playground: Playground, bot: TinyBot) -> None:
    opened = await playground.interactions.command(PLAYER_ID, CHANNEL, "upload")
    await playground.interactions.wait_answered(opened)
    with pytest.raises(InteractionError, match="needs a file"):
        await playground.interactions.submit(opened.id, {})
    cat = playground.interactions.upload("cat.png", "image/png", b"\x89PNG fake")
    submitted = await playground.interactions.submit(opened.id, {"image": [str(cat.id)]})
    await playground.interactions.wait_answered(submitted)
    assert playground.messages(CHANNEL)[-1].content == "cat.png"
