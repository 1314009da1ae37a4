"""Every interaction is answered, whatever is in it: each slash command of every feature, sent with
each of its options malformed (the wrong kind of value, out of its range, not one of its choices,
a required one left out, one it does not have), is answered, and its handler never runs; a click
on a button no item answers is answered once, and one that an item answers is not answered twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.enums import AppCommandOptionType as Kind
from temporalio.testing import WorkflowEnvironment

from bot.persistent import UNMATCHED
from components.safari import REFRESH_BUTTON
from tests.support.bot_harness import World, answered, bot_env, last_reply, post_buttons, raw_slash

QUEUE = "answers"
# A value of the wrong kind for each kind of option (a snowflake kind gets text, as a playground
# that put a file name in an attachment option once sent).
WRONG = {
    Kind.string: 12345,
    Kind.integer: "twelve",
    Kind.number: "a lot",
    Kind.boolean: "yes",
    Kind.user: "someone",
    Kind.channel: "#general",
    Kind.role: "admins",
    Kind.mentionable: "everyone",
    Kind.attachment: "cat.png",
}


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[World]:
    async with bot_env(time_env.client, QUEUE) as w:  # no worker: nothing malformed may need one
        yield w


def leaves(tree: app_commands.CommandTree[Any]) -> list[app_commands.Command[Any, ..., Any]]:
    return [c for c in tree.walk_commands() if isinstance(c, app_commands.Command)]


def malformed(command: app_commands.Command[Any, ..., Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(what is wrong, the options) for every way this command's options can be malformed."""
    for parameter in command.parameters:
        name, kind = parameter.display_name, parameter.type
        yield f"{name}: wrong kind", [{"name": name, "type": kind.value, "value": WRONG[kind]}]
        if kind in (Kind.user, Kind.channel, Kind.role, Kind.mentionable, Kind.attachment):
            # An id with nothing resolved for it.
            yield f"{name}: unresolved", [{"name": name, "type": kind.value, "value": "4242424242"}]
        if parameter.min_value is not None and kind in (Kind.integer, Kind.number):
            low = [{"name": name, "type": kind.value, "value": parameter.min_value - 1}]
            yield f"{name}: below its range", low
        if parameter.max_value is not None and kind is Kind.string:
            long = [{"name": name, "type": kind.value, "value": "x" * (int(parameter.max_value) + 1)}]
            yield f"{name}: too long", long
        if parameter.choices and not parameter.autocomplete:
            yield f"{name}: no such choice", [{"name": name, "type": kind.value, "value": "nonsense"}]
    if any(p.required for p in command.parameters):
        yield "a required option left out", []
    yield "an option it does not have", [{"name": "no_such_option", "type": 3, "value": "x"}]


async def test_every_command_answers_every_malformed_option(world: World) -> None:
    commands = leaves(world.bot.tree)
    assert len(commands) > 20  # every feature's commands are here
    admins = world.guild.create_role("Admins", permissions=discord.Permissions(administrator=True))
    admin = world.guild.add_member(world.env.create_user("admin"), roles=[admins])  # sees every command
    sent = 0
    for command in commands:
        for problem, options in malformed(command):
            result = await raw_slash(admin, world.channel, command.qualified_name, options)
            where = f"/{command.qualified_name} with {problem}"
            assert result.acknowledged, f"{where} was not answered"
            shown = last_reply(result)
            assert shown.ephemeral and "Nothing was done" in shown.content, (where, shown.content)
            sent += 1
    assert sent > 100


async def test_every_command_and_option_says_what_it_is_for(world: World) -> None:
    # discord.py fills a missing description with "…", which Discord shows under the option as
    # all the help a host gets while typing it.
    undescribed = [
        f"/{command.qualified_name} {parameter.display_name}"
        for command in leaves(world.bot.tree)
        for parameter in command.parameters
        if parameter.description.strip() in ("", "…")
    ] + [f"/{c.qualified_name}" for c in leaves(world.bot.tree) if c.description.strip() in ("", "…")]
    assert not undescribed


async def test_an_attachment_sent_as_text_is_refused_in_words(world: World) -> None:
    """What the playground once sent: `/season submit drawing:cat.png`."""
    options = [{"name": "drawing", "type": Kind.attachment.value, "value": "cat.png"}]
    result = answered(await raw_slash(world.player, world.channel, "season submit", options))
    assert last_reply(result).content == (
        "Nothing was done: **drawing** must be an uploaded file. Please run the command again."
    )


async def test_a_range_refusal_says_the_range(world: World) -> None:
    options = [
        {"name": "action", "type": 3, "value": "Treasure"},
        {"name": "minutes", "type": 4, "value": -5},
    ]
    result = answered(await raw_slash(world.host, world.channel, "action delayed", options))
    assert last_reply(result).content == (
        "Nothing was done: **minutes** must be from 0 to 43200 (Minutes from a player's run to its "
        "result, at most 30 days; 0 turns the delay off). Please run the command again."
    )


async def test_a_button_nothing_answers_is_answered(world: World) -> None:
    message = await post_buttons(world, "feature-gone:42", REFRESH_BUTTON.build())
    gone = answered(await world.player.click(message, custom_id="feature-gone:42"))
    assert gone.response is not None and gone.response.ephemeral and gone.response.content == UNMATCHED
    # One the Safari panel's item answers is answered by it alone (a second answer would fail).
    refresh = answered(await world.host.click(message, custom_id=REFRESH_BUTTON.build()))
    assert not any(UNMATCHED in m.content for m in [*refresh.followups])
