"""The Safari panel as players and hosts of a real server use it, on the dev server (listing needs
its visibility store): everyone sees the scheduled results and nobody a Cancel button; Manage
gives a host, and only them, the results with a Cancel each; the panel and the public "results
in N minutes" post keep themselves true when a round is cancelled or fires."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import discord
import pytest
import pytest_asyncio
from simcord import ResponseMessage, assert_responded
from simcord.components import walk_components
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.jobs import JobsActivities
from bot.cogs.safari import SafariCog
from clients.jobs import utcnow
from clients.safari import join, safari_store
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.jobs_doubles import Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows.common import EDIT_ANNOUNCEMENT, AnnouncementEdit
from workflows.jobs_models import JobResult

pytestmark = pytest.mark.asyncio(loop_scope="module")
QUEUE = f"panel-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[World]:
    doubles = Doubles(WorkflowEnvironment.from_client(client))
    worlds: list[World] = []

    @activity.defn(name=EDIT_ANNOUNCEMENT)
    async def edit_announcement(edit: AnnouncementEdit) -> bool:
        # The real edit, through the bot's own connection (as the worker's REST client would).
        return await JobsActivities(worlds[0].bot).edit_announcement(edit)

    posts = [fn for fn in doubles.activities() if getattr(fn, "__name__", "") != "edit_announcement"]
    async with build_worker(client, QUEUE, [*posts, edit_announcement]), bot_env(client, QUEUE) as w:
        worlds.append(w)
        cog = w.bot.get_cog("Safari")
        assert cog is not None and type(cog).__name__ == SafariCog.__name__
        cog.time_unit = timedelta(seconds=1)  # type: ignore[attr-defined]  # minutes typed become seconds
        store = await safari_store(client, w.guild.id, QUEUE)
        await join(store, w.player.id, "player")
        yield w


def texts(message: ResponseMessage) -> str:
    return "\n".join(str(c.get("content", "")) for c in walk_components(message.components))


def custom_ids(message: ResponseMessage) -> list[str]:
    return [str(c["custom_id"]) for c in walk_components(message.components) if c.get("custom_id")]


def now_in_channel(w: World, message_id: int) -> discord.Message:
    [message] = [m for m in w.channel.history() if m.id == message_id]
    return message


def shown(w: World, message_id: int) -> str:
    """What a member reads in the message now: its content and its layout's texts."""
    message = now_in_channel(w, message_id)
    layout = [component.to_dict() for component in message.components]
    return "\n".join([message.content, *(str(c.get("content", "")) for c in walk_components(layout))])


async def schedule(w: World, panel: ResponseMessage, minutes: str) -> tuple[str, ResponseMessage]:
    shown = answered(await w.host.click(panel, label="Schedule results"))
    done = answered(await w.host.submit_modal(shown, {"when": f"{minutes}m"}))
    public = last_reply(done)
    assert not public.ephemeral and "Safari round 1 results** scheduled" in public.content
    return w.jobs.started[-1], public


async def closed(w: World, job_id: str) -> bool:
    return (await w.client.get_workflow_handle(job_id).describe()).status != WorkflowExecutionStatus.RUNNING


async def test_players_see_no_cancel_and_the_panel_and_post_keep_themselves_true(world: World) -> None:
    w = world
    panel = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    assert "No round results are scheduled." in texts(panel)
    job_id, public = await schedule(w, panel, "20")

    # The panel, posted before the round was scheduled, lists it now: nobody sees a Cancel on it.
    await eventually(lambda: "Safari Round Results" in shown(w, panel.id))
    assert not [c for c in custom_ids(panel) if c.startswith("jc:")]

    refused = answered(await w.player.click(panel, label="Manage"))
    assert_responded(refused, contains="can manage the Safari", ephemeral=True)
    managed = last_reply(answered(await w.host.click(panel, label="Manage")))
    assert managed.ephemeral and [c for c in custom_ids(managed) if c.startswith("jc:m0:")]

    cancelled = answered(await w.host.click(managed, label="Cancel"))
    assert "Cancelled **Safari Round Results**" in last_reply(cancelled).content
    await eventually(lambda: closed(w, job_id))
    # The public post says so, and the panel no longer lists the round.
    await eventually(lambda: "cancelled by" in shown(w, public.id))
    assert f"❌ cancelled by <@{w.host.id}>" in shown(w, public.id)
    assert shown(w, public.id).startswith("🦁 **Safari round 1 results**: ")
    await eventually(lambda: "No round results are scheduled." in shown(w, panel.id))

    # A round that fires: the post says its results are posted, and the panel, looked at again
    # after the deadline, drops it.
    job_id, public = await schedule(w, panel, "3")
    await eventually(lambda: "Safari Round Results" in shown(w, panel.id))
    result = await w.client.get_workflow_handle(job_id, result_type=JobResult).result()
    assert result.outcome == "done"
    await eventually(lambda: "✅ posted" in shown(w, public.id))
    await eventually(lambda: closed(w, job_id))
    assert "Safari Round Results" in shown(w, panel.id)  # nothing told the bot
    await w.bot.live_listings.tick(now=utcnow() + timedelta(hours=1))
    assert "No round results are scheduled." in shown(w, panel.id)
