"""The job dashboard and the Safari panel through the bot (simcord), on the real dev server,
because listing needs the visibility store the time-skipping server does not have."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from simcord import ResponseMessage, assert_message, assert_responded
from simcord.components import walk_components
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.jobs import Jobs
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.jobs_doubles import Doubles
from tests.support.temporal import eventually
from worker import build_worker

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[World]:
    queue = f"bot-{uuid.uuid4().hex[:8]}"
    doubles = Doubles(WorkflowEnvironment.from_client(client))
    async with build_worker(client, queue, doubles.activities()), bot_env(client, queue) as w:
        yield w
        # simcord's ids repeat from test to test: leave the guild empty for the next one.
        facade = Jobs(client, queue)
        for job in await facade.get_jobs(w.guild.id):
            await facade.cancel(job.job_id, by=w.host.id, guild_id=w.guild.id, as_host=True)
        await eventually(lambda: listed(facade, w.guild.id, 0))


async def listed(jobs: Jobs, guild_id: int, count: int) -> bool:
    return len(await jobs.get_jobs(guild_id)) == count


def custom_ids(message: ResponseMessage, prefix: str = "") -> list[str]:
    found = (str(c.get("custom_id", "")) for c in walk_components(message.components))
    return [custom_id for custom_id in found if custom_id and custom_id.startswith(prefix)]


def texts(message: ResponseMessage) -> str:
    return "\n".join(str(c["content"]) for c in walk_components(message.components) if c.get("type") == 10)


def cancel_id(view: str, job_id: str, guild_id: int, page: int = 0) -> str:
    return f"jobs:cancel:{view}:{page}:{job_id.removeprefix(f'job-{guild_id}-')}"


async def schedule(w: World, by: int, description: str, hours: float) -> str:
    return await w.bot.jobs.schedule(
        "post_message",
        {"content": description},
        guild_id=w.guild.id,
        channel_id=w.channel.id,
        scheduled_by=by,
        delay=timedelta(hours=hours),
        description=description,
    )


async def test_the_dashboard_lists_and_cancels_by_the_rules(world: World) -> None:
    w = world
    a = await schedule(w, w.host.id, "Quiz night", 1)
    b = await schedule(w, w.player.id, "Player's raid", 2)
    c = await schedule(w, w.other_player.id, "Other's bake-off", 3)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 3))

    shown = answered(await w.player.slash(w.channel, "schedule list"))
    dashboard = last_reply(shown)
    assert_message(dashboard, ephemeral=True)
    body = texts(dashboard)
    assert body.index("Quiz night") < body.index("Player's raid") < body.index("Other's bake-off")
    assert f"<@{w.host.id}>" in body and f"<@{w.player.id}>" in body and "left" in body
    assert custom_ids(dashboard, "jobs:cancel:") == [cancel_id("d", j, w.guild.id) for j in (a, b, c)]
    assert all(len(custom_id) <= 100 for custom_id in custom_ids(dashboard))

    # A player may not cancel a host's job: a clear answer, nothing changed.
    refused = answered(await w.player.click(dashboard, custom_id=cancel_id("d", a, w.guild.id)))
    assert_message(last_reply(refused), contains="Nothing was cancelled", ephemeral=True)
    assert "only a host or the user who scheduled" in last_reply(refused).content
    assert (await w.bot.jobs.status(a)).state == "waiting"

    # Their own job they may; the listing is redrawn without it.
    stale = last_reply(answered(await w.player.slash(w.channel, "schedule list")))
    own = answered(await w.player.click(dashboard, custom_id=cancel_id("d", b, w.guild.id)))
    assert_message(last_reply(own), contains="Cancelled **Player's raid**", ephemeral=True)
    assert (await w.bot.jobs.status(b)).state == "cancelled"
    assert own.response is not None
    assert custom_ids(own.response, "jobs:cancel:") == [cancel_id("d", j, w.guild.id) for j in (a, c)]

    # A host may cancel anyone's job.
    hosts = answered(await w.host.slash(w.channel, "schedule list"))
    by_host = answered(await w.host.click(last_reply(hosts), custom_id=cancel_id("d", c, w.guild.id)))
    assert_message(last_reply(by_host), contains="Cancelled", ephemeral=True)
    assert (await w.bot.jobs.status(c)).state == "cancelled"

    # A cancel for a job that is already over changes nothing and says so.
    again = answered(await w.player.click(stale, custom_id=cancel_id("d", b, w.guild.id)))
    assert_message(last_reply(again), contains="already", ephemeral=True)


async def test_the_dashboard_pages(world: World) -> None:
    w = world
    jobs = [await schedule(w, w.host.id, f"Job {n}", 1 + n) for n in range(8)]
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 8))

    first = last_reply(answered(await w.host.slash(w.channel, "schedule list")))
    assert "page 1 of 2" in texts(first)
    assert custom_ids(first, "jobs:cancel:") == [cancel_id("d", j, w.guild.id) for j in jobs[:6]]
    assert len(list(walk_components(first.components))) <= 40

    turned = answered(await w.host.click(first, label="Next"))
    assert turned.response is not None
    assert "page 2 of 2" in texts(turned.response)
    assert custom_ids(turned.response, "jobs:cancel:") == [cancel_id("d", j, w.guild.id, 1) for j in jobs[6:]]
    back = answered(await w.host.click(turned.response, label="Previous"))
    assert back.response is not None and "page 1 of 2" in texts(back.response)


async def test_old_buttons_still_work_after_a_restart(world: World) -> None:
    w = world
    modal = answered(await w.host.slash(w.channel, "safari schedule"))
    answered(await w.host.submit_modal(modal, {"hours": "2", "minutes": "0"}))
    [first] = w.jobs.started
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    posted = answered(await w.host.slash(w.channel, "safari panel"))
    panel = last_reply(posted)
    assert_message(panel, ephemeral=False)
    assert "Safari Round Results" in texts(panel) and "left" in texts(panel)
    dashboard = last_reply(answered(await w.host.slash(w.channel, "schedule list")))

    await w.restart()

    # The panel's Schedule button opens the modal, and its submission is handled, by the new bot.
    shown = answered(await w.host.click(panel, label="Schedule results"))
    assert shown.modal is not None
    done = answered(await w.host.submit_modal(shown, {"hours": "3", "minutes": "0"}))
    assert_responded(done, contains="Safari round results", ephemeral=False)
    [second] = w.jobs.started
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 2))

    # A player cannot schedule from the panel either.
    refused = answered(await w.player.click(panel, label="Schedule results"))
    assert refused.modal is None
    assert_responded(refused, contains="Only a host", ephemeral=True)

    # Status, for anyone.
    status = answered(await w.player.click(panel, label="Status"))
    assert_message(last_reply(status), contains="Next Safari round results", ephemeral=True)

    # The old panel's Cancel button cancels, and the panel is redrawn for everyone.
    cancelled = answered(await w.host.click(panel, custom_id=cancel_id("s", first, w.guild.id)))
    assert (await w.bot.jobs.status(first)).state == "cancelled"
    assert cancelled.response is not None
    assert custom_ids(cancelled.response, "jobs:cancel:") == [cancel_id("s", second, w.guild.id)]

    # The old dashboard's buttons too: its Cancel for the job that is gone, and Refresh.
    gone = answered(await w.host.click(dashboard, custom_id=cancel_id("d", first, w.guild.id)))
    assert_message(last_reply(gone), contains="Nothing was cancelled", ephemeral=True)
    refreshed = answered(await w.host.click(dashboard, label="Refresh"))
    assert refreshed.response is not None
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))


async def test_join_goes_through_the_safari_store(world: World) -> None:
    w = world
    posted = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    joined = answered(await w.player.click(posted, label="Join"))
    assert_message(last_reply(joined), contains="You joined the Safari", ephemeral=True)
    again = answered(await w.player.click(posted, label="Join"))
    assert_message(last_reply(again), contains="already in the Safari", ephemeral=True)
