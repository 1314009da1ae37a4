"""The bot harness checks what the bot sends Discord: a tiny probe cog answers in ways Discord refuses
(a V2 layout with content, a custom id over 100 characters, content added to a V2 message by an
edit, a followup of that kind) and the test using `bot_env` fails, naming the offending field."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord
import pytest
from discord import app_commands
from discord.ext import commands
from simcord import InteractionResult
from simcord.backend import Backend
from temporalio.testing import WorkflowEnvironment

from tests.support.bot_harness import World, answered, bot_env
from tests.support.interaction_check import request_errors

LONG_ID = "probe:" + "x" * 100
LEGACY = "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2"


def layout(text: str) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView()
    view.add_item(discord.ui.TextDisplay(text))
    return view


class AddContent(discord.ui.Button[discord.ui.LayoutView]):
    def __init__(self) -> None:
        super().__init__(label="Add content", custom_id="probe:add-content")

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content="content on a V2 message")


class Probe(commands.Cog):
    """Answers as a careless cog would."""

    probe = app_commands.Group(name="probe", description="Answers Discord would refuse")

    @probe.command(name="fine", description="A V2 layout, nothing else")
    async def fine(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(view=layout("all good"))

    @probe.command(name="v2-content", description="A V2 layout together with content")
    async def v2_content(self, interaction: discord.Interaction) -> None:
        # Deliberately what discord.py's types (and Discord) forbid.
        await interaction.response.send_message("and some content", view=layout("a layout"))  # type: ignore[call-overload]

    @probe.command(name="long-id", description="A button whose custom id is too long")
    async def long_id(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Press", custom_id=LONG_ID))
        await interaction.response.send_message("press it", view=view)

    @probe.command(name="edit-content", description="Content added to a V2 original")
    async def edit_content(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(view=layout("a layout"))
        await interaction.edit_original_response(content="content on a V2 message")

    @probe.command(name="button", description="A V2 layout whose button adds content to it")
    async def button(self, interaction: discord.Interaction) -> None:
        view = layout("a layout")
        view.add_item(discord.ui.ActionRow(AddContent()))
        await interaction.response.send_message(view=view)

    @probe.command(name="followup", description="A V2 followup with content after a defer")
    async def followup(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send("content", view=layout("a layout"), ephemeral=True)  # type: ignore[call-overload]


@asynccontextmanager
async def probed(
    time_env: WorkflowEnvironment, command: str
) -> AsyncIterator[tuple[World, InteractionResult]]:
    """`bot_env` with the probe cog loaded, after the host ran `/probe <command>`."""
    async with bot_env(time_env.client, f"probe-{uuid.uuid4().hex[:8]}") as world:
        await world.bot.add_cog(Probe())
        await world.bot.tree.sync()
        yield world, await world.host.slash(world.channel, f"probe {command}")


async def test_an_answer_discord_accepts_passes(time_env: WorkflowEnvironment) -> None:
    async with probed(time_env, "fine") as (world, result):
        answered(result)
    assert world.requests.checked > 0 and world.requests.violations == []


@pytest.mark.parametrize(
    ("command", "request_line", "field"),
    [
        ("v2-content", "POST /interactions/", f"body.data.content: {LEGACY}"),
        ("long-id", "POST /interactions/", "body.data.components.0.components.0.custom_id"),
        ("edit-content", "PATCH /webhooks/", f"body.content: {LEGACY}"),
        ("followup", "POST /webhooks/", f"body.content: {LEGACY}"),
    ],
)
async def test_an_answer_discord_refuses_fails_the_test_naming_the_field(
    time_env: WorkflowEnvironment, command: str, request_line: str, field: str
) -> None:
    with pytest.raises(AssertionError) as failure:
        async with probed(time_env, command):
            pass
    report = str(failure.value)
    assert "1 request(s) Discord would refuse" in report
    assert request_line in report and field in report
    assert "tests/harness/test_interaction_check.py" in report  # where the probe made it


async def test_a_button_that_adds_content_to_its_v2_message_fails_the_test(
    time_env: WorkflowEnvironment,
) -> None:
    """An UPDATE_MESSAGE answer is checked against the message it changes (which is V2)."""
    with pytest.raises(AssertionError) as failure:
        async with probed(time_env, "button") as (world, shown):
            message = answered(shown).response
            assert message is not None
            await world.host.click(message, label="Add content")
    assert f"body.data.content: {LEGACY}" in str(failure.value)
    assert "(callback)" in str(failure.value)  # AddContent.callback made it


async def test_the_refused_answer_never_reaches_the_user(time_env: WorkflowEnvironment) -> None:
    """Discord answers 400, as it would: the bot's error path answers instead (in production the
    user would see that too), and the refused layout is shown nowhere."""
    with pytest.raises(AssertionError, match="1 request"):
        async with probed(time_env, "v2-content") as (world, result):
            shown = answered(result).response
            history = world.channel.history()
            made = [(r.method, r.path.split("/")[1], r.json or {}) for r in world.env.http_requests]
    # Looked at outside, so that a failure here is not mistaken for the harness's.
    assert shown is not None and shown.ephemeral and "went wrong" in shown.content
    assert history == []
    # simcord's record of the bot's requests still holds the refused one, then the error answer.
    answers = [body for method, first, body in made if (method, first) == ("POST", "interactions")]
    assert [body["data"].get("content") for body in answers] == ["and some content", shown.content]


def test_the_check_covers_every_message_route() -> None:
    """Channel messages and webhook posts are held to the same rules; query parameters and routes
    are checked too."""
    backend = Backend()
    v2_with_content = {"content": "hi", "flags": 1 << 15, "components": [{"type": 10, "content": "x"}]}
    for method, path in [
        ("POST", "/channels/1/messages"),
        ("POST", "/webhooks/1/token"),
    ]:
        errors = request_errors(backend, method, path, v2_with_content, None, False)
        assert [str(e).split(":")[0] for e in errors] == ["body.content"], (method, path)
    assert request_errors(backend, "POST", "/channels/1/messages", {}, None, False)[0].code == "EMPTY_MESSAGE"
    wait = request_errors(backend, "POST", "/webhooks/1/token", {"content": "x"}, {"wait": "maybe"}, False)
    assert [e.location for e in wait] == [("query", "wait")]
    unknown = request_errors(backend, "POST", "/no/such/route", {}, None, False)
    assert [e.location for e in unknown] == [("path",)]
