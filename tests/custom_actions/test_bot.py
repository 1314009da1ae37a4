"""The Custom Actions editor and runs through the bot, in process (simcord), on the real dev server
(the editor's task list is a visibility query), with the real activity and a Discord double."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import discord
import pytest
import pytest_asyncio
from simcord import InteractionResult, ResponseMessage
from simcord.components import walk_components
from temporalio.client import Client
from temporalio.service import RPCError

from bot.cogs.custom_actions import CustomActionsCog
from clients.jobs import utcnow
from tests.support.bot_harness import (
    World,
    answered,
    as_datetime,
    as_old_form,
    bot_env,
    last_reply,
    post_buttons,
    unix_times,
)
from tests.support.custom_actions_doubles import Harness, custom_actions_worker
from tests.support.jobs_doubles import assert_near
from tests.support.temporal import eventually
from workflows.custom_actions_models import ActionDefinition

pytestmark = pytest.mark.asyncio(loop_scope="module")


# One queue for the module: simcord gives every test's guild the same id, and a guild's store
# workflows stay on the queue they started on.
QUEUE = f"bot-ca-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[tuple[World, Harness]]:
    queue = QUEUE
    async with custom_actions_worker(client, queue, utcnow()) as harness, bot_env(client, queue) as w:
        harness.clock.now = utcnow()

        # Store workflows start on first use (a cold sandbox on a busy machine takes seconds):
        # start this guild's now, and give each interaction longer to settle than simcord's 5 s.
        async def warm() -> bool:
            try:
                await harness.actions.all(w.guild.id)
                await harness.balance(w.guild.id, w.player.id)
            except RPCError:  # no poller seen yet: the worker has only just started
                return False
            return True

        await eventually(warm)
        w.env.settle_timeout = 30.0
        yield w, harness


def text_of(message: ResponseMessage | discord.Message) -> str:
    if isinstance(message, ResponseMessage):
        return message.content + str(message.components)
    return message.content + str([c.to_dict() for c in message.components])


def cog(w: World) -> CustomActionsCog:
    found = w.bot.get_cog("CustomActions")
    assert found is not None and type(found).__name__ == CustomActionsCog.__name__
    return found  # type: ignore[return-value]


async def current(w: World, name: str) -> ActionDefinition:
    return await cog(w).actions.find(w.guild.id, name)


async def editor_after(result: InteractionResult) -> ResponseMessage:
    """The editor message as the component interaction left it (edited in place)."""
    answered(result)
    assert result.response is not None
    return result.response


async def test_a_host_schedules_a_run_from_the_editor_and_cancels_it(world: tuple[World, Harness]) -> None:
    w, _ = world
    created = answered(await w.host.slash(w.channel, "action create", name="Expedition"))
    editor = last_reply(created)
    assert editor.ephemeral and "⚙️ Expedition" in text_of(editor)
    answered(await w.host.slash(w.channel, "action add-text", action="Expedition", text="The party returns!"))
    action_id = (await current(w, "Expedition")).id

    # Trigger: Scheduled. The editor now shows the (empty) task list and the channel select.
    picked = await w.host.select(editor, ["schedule"], custom_id=f"ca:trigger:{action_id}")
    editor = await editor_after(picked)
    shown = text_of(editor)
    assert "### Scheduled Tasks" in shown and "No tasks are scheduled." in shown
    assert (await current(w, "Expedition")).trigger.type == "schedule"

    # The channel is remembered as the action's last channel.
    editor = await editor_after(await w.host.select(editor, [w.channel], custom_id=f"ca:channel:{action_id}"))
    assert (await current(w, "Expedition")).trigger.channel_id == w.channel.id

    # Schedule -> the modal (the first response) -> a job, listed with its time remaining.
    modal = answered(await w.host.click(editor, label="Schedule Task"))
    assert modal.modal is not None
    bad = answered(await w.host.submit_modal(modal, {"when": "31d"}))
    assert "Nothing was scheduled. “31d” is too long: at most 30 days." in text_of(last_reply(bad))
    # A form opened before the When field (before a restart) still has days, hours and minutes.
    modal = as_old_form(
        answered(await w.host.click(editor, label="Schedule Task")), "days", "hours", "minutes"
    )
    bad = answered(await w.host.submit_modal(modal, {"days": "31"}))
    assert "Nothing was scheduled. The wait is too long: at most 30 days." in text_of(last_reply(bad))
    assert w.jobs.started == []
    modal = answered(await w.host.click(editor, label="Schedule Task"))
    before = utcnow()
    done = answered(await w.host.submit_modal(modal, {"when": "1d2h15m"}))
    confirmation = last_reply(done)
    assert confirmation.ephemeral and "will run in" in confirmation.content
    [job_id] = w.jobs.started
    status = await w.bot.jobs.status(job_id)
    assert status.state == "waiting" and status.channel_id == w.channel.id
    assert status.description == "Custom Action: Expedition"
    assert_near(status.deadline, before + timedelta(days=1, hours=2, minutes=15))
    assert unix_times(confirmation.content)[0] == int(status.deadline.timestamp())
    editor = await editor_after(done)
    # A countdown each reader's Discord keeps true: the editor is read long after it is posted.
    countdown = f"<t:{int(status.deadline.timestamp())}:R>"
    assert f"1. <#{w.channel.id}> — {countdown}" in text_of(editor)
    # The editor offers the same "Change a job…" menu as /schedule list, on this task.
    suffix = job_id.removeprefix(f"job-{w.guild.id}-")
    assert "'custom_id': 'jss:0'" in text_of(editor) and f":{suffix}'" in text_of(editor)

    # Opened again later, the list comes from the visibility store alone.
    async def listed() -> bool:
        return len(await cog(w).actions.tasks(w.guild.id, action_id)) == 1

    await eventually(listed)
    reopened = last_reply(answered(await w.host.slash(w.channel, "action edit", action="Expedition")))
    assert countdown in text_of(reopened)

    # The jobs dashboard lists it too; a player, who may not cancel a host's task, is shown no
    # Cancel button there; the host cancels it from the editor.
    dashboard = last_reply(answered(await w.player.slash(w.channel, "schedule list")))
    assert "Custom Action: Expedition" in text_of(dashboard)
    assert "Cancel" not in str(dashboard.components)
    cancelled = answered(await w.host.click(reopened, label="Cancel"))
    assert "Cancelled **Custom Action: Expedition**" in text_of(last_reply(cancelled))
    assert (await w.bot.jobs.status(job_id)).state == "cancelled"
    assert "No tasks are scheduled." in text_of(await editor_after(cancelled))


async def test_the_editor_is_for_hosts_and_refuses_channels_it_cannot_post_in(
    world: tuple[World, Harness],
) -> None:
    w, _ = world
    editor = last_reply(answered(await w.host.slash(w.channel, "action create", name="Lookout")))
    action_id = (await current(w, "Lookout")).id
    for command, options in (("action edit", {"action": "Lookout"}), ("action create", {"name": "Mine"})):
        refused = answered(await w.player.slash(w.channel, command, **options))
        assert "Only a host (Manage Roles, or this server's host role) can" in text_of(last_reply(refused))
    assert [d.name for d in await cog(w).actions.all(w.guild.id)].count("Mine") == 0

    me = w.bot.user
    assert me is not None
    hidden = w.guild.create_text_channel(
        "no-hooks", overwrites={me: discord.PermissionOverwrite(manage_webhooks=False)}
    )
    editor = await editor_after(
        await w.host.select(editor, ["schedule"], custom_id=f"ca:trigger:{action_id}")
    )
    editor = await editor_after(await w.host.select(editor, [hidden], custom_id=f"ca:channel:{action_id}"))
    modal = answered(await w.host.click(editor, label="Schedule Task"))
    done = answered(await w.host.submit_modal(modal, {"when": "1h"}))
    assert "Nothing was scheduled. I cannot post results in" in text_of(last_reply(done))
    assert "Manage Webhooks" in text_of(last_reply(done))
    assert w.jobs.started == []


async def test_bad_definitions_get_clear_messages(world: tuple[World, Harness]) -> None:
    w, _ = world
    blank = answered(await w.host.slash(w.channel, "action create", name="   "))
    assert "the action needs a name" in text_of(last_reply(blank))
    answered(await w.host.slash(w.channel, "action create", name="Spam"))
    for n in range(10):
        answered(await w.host.slash(w.channel, "action add-text", action="Spam", text=f"line {n}"))
    eleventh = answered(await w.host.slash(w.channel, "action add-text", action="Spam", text="one more"))
    assert "already has 10 outcomes" in text_of(last_reply(eleventh))
    assert len((await current(w, "Spam")).outcomes) == 10


async def test_a_player_runs_an_action_from_the_posted_button(world: tuple[World, Harness]) -> None:
    w, h = world
    await h.give(w.guild.id, w.player.id, 10)
    answered(await w.host.slash(w.channel, "action create", name="Forage"))
    answered(await w.host.slash(w.channel, "action add-text", action="Forage", text="You find berries."))
    answered(await w.host.slash(w.channel, "action add-currency", action="Forage", amount=5))
    posted = last_reply(answered(await w.host.slash(w.channel, "action post", action="Forage")))
    assert not posted.ephemeral

    ran = answered(await w.player.click(posted, label="Forage"))
    shown = text_of(last_reply(ran))
    assert "You find berries." in shown and "gained 5 (balance 10 → **15**)" in shown
    assert await h.balance(w.guild.id, w.player.id) == 15
    outsider = answered(await w.other_player.click(posted, label="Forage"))
    assert "You have not joined this server's Safari" in text_of(last_reply(outsider))


async def test_a_delayed_action_blocks_a_second_run_with_the_time_left_and_a_cancel(
    world: tuple[World, Harness],
) -> None:
    w, h = world
    answered(await w.host.slash(w.channel, "action create", name="Voyage"))
    answered(await w.host.slash(w.channel, "action add-text", action="Voyage", text="Land ho!"))
    answered(
        await w.host.slash(
            w.channel, "action delayed", action="Voyage", minutes=120, text="🚢 Your voyage sets sail."
        )
    )
    first = answered(await w.player.slash(w.channel, "action run", action="Voyage"))
    assert "🚢 Your voyage sets sail." in text_of(last_reply(first)) and "2h left" in text_of(
        last_reply(first)
    )

    again = answered(await w.player.slash(w.channel, "action run", action="Voyage"))
    answer = last_reply(again)
    assert "You already have **Voyage** running" in answer.content and "2h left" in answer.content
    deadline = as_datetime(unix_times(answer.content)[0])
    assert_near(deadline, utcnow() + timedelta(hours=2), slack=timedelta(minutes=1))

    # Another player may not cancel it (from the jobs dashboard); the player may, from the answer.
    async def listed() -> bool:
        return any(j.scheduled_by == w.player.id for j in await w.bot.jobs.get_jobs(w.guild.id))

    await eventually(listed)
    dashboard = last_reply(answered(await w.other_player.slash(w.channel, "schedule list")))
    assert "Custom Action: Voyage" in text_of(dashboard) and "Cancel" not in str(dashboard.components)
    # The answer's button, where the other player could press it: refused all the same.
    [cancel_id] = [c["custom_id"] for row in answer.components for c in row.get("components", [])]
    stolen = answered(await w.other_player.click(await post_buttons(w, cancel_id), custom_id=cancel_id))
    assert "Nothing was cancelled: only a host or the user who scheduled" in text_of(last_reply(stolen))
    cancelled = answered(await w.player.click(answer, label="Cancel"))
    assert "Cancelled **Custom Action: Voyage**" in text_of(await editor_after(cancelled))
    assert h.discord.posts == []


async def test_a_cancel_button_posted_before_buttons_carried_their_run_still_cancels(
    world: tuple[World, Harness],
) -> None:
    w, h = world
    answered(await w.host.slash(w.channel, "action create", name="Voyage"))
    answered(await w.host.slash(w.channel, "action add-text", action="Voyage", text="Land ho!"))
    answered(await w.host.slash(w.channel, "action delayed", action="Voyage", minutes=120))
    answered(await w.player.slash(w.channel, "action run", action="Voyage"))
    [job_id] = w.jobs.started
    # The answer as the previous version of the bot posted it: its custom id had no run.
    view = discord.ui.View()
    suffix = job_id.removeprefix(f"job-{w.guild.id}-")
    view.add_item(discord.ui.Button[Any](label="Cancel", custom_id=f"ca:cancel:p:{suffix}"))
    channel = w.bot.get_channel(w.channel.id)
    assert isinstance(channel, discord.TextChannel)
    posted = await channel.send("You already have **Voyage** running", view=view)
    cancelled = answered(await w.player.click(posted, label="Cancel"))
    assert "Cancelled **Custom Action: Voyage**" in text_of(await editor_after(cancelled))
    assert (await w.bot.jobs.status(job_id)).state == "cancelled"
    assert h.discord.posts == []


async def test_a_delayed_action_is_refused_where_the_bot_cannot_post_results(
    world: tuple[World, Harness],
) -> None:
    w, _ = world
    answered(await w.host.slash(w.channel, "action create", name="Dig"))
    answered(await w.host.slash(w.channel, "action add-text", action="Dig", text="Found a bone."))
    answered(await w.host.slash(w.channel, "action delayed", action="Dig", minutes=30))
    me = w.bot.user
    assert me is not None
    closed = w.guild.create_text_channel(
        "no-hooks-here", overwrites={me: discord.PermissionOverwrite(manage_webhooks=False)}
    )
    refused = answered(await w.player.slash(closed, "action run", action="Dig"))
    assert "Nothing was started. I cannot post results in this channel" in text_of(last_reply(refused))
    assert w.jobs.started == []


def component(message: ResponseMessage, custom_id: str) -> dict[str, Any]:
    found = [c for c in walk_components(message.components) if c.get("custom_id") == custom_id]
    assert found, f"no {custom_id} in {message.components}"
    return found[0]


async def test_the_editor_shows_its_trigger_and_channel_and_goes_back(world: tuple[World, Harness]) -> None:
    """Once the trigger select snapped back to its placeholder, a channel pick said nothing, and
    the editor had no way back (the original's editor has a Back button)."""
    w, _ = world
    editor = last_reply(answered(await w.host.slash(w.channel, "action create", name="Signpost")))
    action_id = (await current(w, "Signpost")).id
    assert "**Trigger:** 🖱️ Button click" in text_of(editor)
    chosen = [o["value"] for o in component(editor, f"ca:trigger:{action_id}")["options"] if o.get("default")]
    assert chosen == ["button"]

    editor = await editor_after(
        await w.host.select(editor, ["schedule"], custom_id=f"ca:trigger:{action_id}")
    )
    assert "**Trigger:** ⏰ Scheduled Action · scheduled runs need a channel" in text_of(editor)
    chosen = [o["value"] for o in component(editor, f"ca:trigger:{action_id}")["options"] if o.get("default")]
    assert chosen == ["schedule"]

    picked = await w.host.select(editor, [w.channel], custom_id=f"ca:channel:{action_id}")
    editor = await editor_after(picked)
    assert f"scheduled runs post in <#{w.channel.id}>" in text_of(editor)
    assert component(editor, f"ca:channel:{action_id}")["default_values"] == [
        {"id": w.channel.id, "type": "channel"}
    ]
    assert last_reply(picked).content == f"📍 Scheduled runs of **Signpost** will post in <#{w.channel.id}>."

    menu = await editor_after(await w.host.click(editor, label="Back"))
    assert "## ⚙️ Custom Actions" in text_of(menu) and "**Signpost**" in text_of(menu)
    again = await editor_after(await w.host.select(menu, [action_id], custom_id="ca:open"))
    assert "⚙️ Signpost" in text_of(again) and f"<#{w.channel.id}>" in text_of(again)
    # A player's list has no editor to open.
    listed = last_reply(answered(await w.player.slash(w.channel, "action list")))
    assert "**Signpost**" in text_of(listed) and "ca:open" not in text_of(listed)


async def test_a_scheduled_run_that_would_not_run_for_its_host_is_refused_when_scheduled(
    world: tuple[World, Harness],
) -> None:
    """Once a host outside the Safari scheduled a currency action, and at the deadline the channel
    read "You have not joined this server's Safari, so Treasure cannot run for you"."""
    w, h = world
    editor = last_reply(answered(await w.host.slash(w.channel, "action create", name="Treasure")))
    answered(await w.host.slash(w.channel, "action add-currency", action="Treasure", amount=5))
    action_id = (await current(w, "Treasure")).id
    editor = await editor_after(
        await w.host.select(editor, ["schedule"], custom_id=f"ca:trigger:{action_id}")
    )
    editor = await editor_after(await w.host.select(editor, [w.channel], custom_id=f"ca:channel:{action_id}"))
    modal = answered(await w.host.click(editor, label="Schedule Task"))
    refused = text_of(last_reply(answered(await w.host.submit_modal(modal, {"when": "1h"}))))
    assert refused.startswith(
        "Nothing was scheduled: a scheduled run of **Treasure** runs for you, the host who schedules it"
    )
    assert "You have not joined this server's Safari" in refused
    # A repeat runs for the host too: refused the same way.
    repeat = answered(
        await w.host.slash(w.channel, "action repeat", action="Treasure", name="hoard", every="every 2h")
    )
    assert text_of(last_reply(repeat)).startswith("Nothing was repeated: a scheduled run of **Treasure**")
    assert w.jobs.started == []

    await h.give(w.guild.id, w.host.id, 0)  # in the Safari now: it would run for them
    modal = answered(await w.host.click(editor, label="Schedule Task"))
    done = answered(await w.host.submit_modal(modal, {"when": "1h"}))
    assert "will run in" in text_of(last_reply(done))
    [job_id] = w.jobs.started
    await w.bot.jobs.cancel(job_id, by=w.host.id, guild_id=w.guild.id, as_host=True)
