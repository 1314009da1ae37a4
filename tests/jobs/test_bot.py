"""The job dashboard and the Safari panel through the bot (simcord), on the real dev server,
because listing needs the visibility store the time-skipping server does not have."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta
from typing import Any

import discord
import pytest
import pytest_asyncio
from simcord import ResponseMessage, assert_message, assert_responded
from simcord.components import walk_components
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from bot.replies import NOT_ANSWERED, WORKER_WAIT, NotAnswered, in_time
from clients.jobs import Jobs, utcnow
from tests.support.bot_harness import World, answered, bot_env, last_reply, post_buttons
from tests.support.jobs_doubles import Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows.jobs_models import JobStatus, Reminder, run_tag

pytestmark = pytest.mark.asyncio(loop_scope="module")
QUEUE = f"bot-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[World]:
    # One queue for the module: simcord's guild ids repeat from test to test, so a guild's Safari
    # store started by one test must be served by the worker of the next.
    queue = QUEUE
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


async def cancel_id(w: World, view: str, job_id: str, page: int = 0) -> str:
    """The custom id of the Cancel button for the job's current run, on a listing's page."""
    run = (await w.client.get_workflow_handle(job_id).describe()).run_id
    return f"jc:{view}{page}:{run_tag(run)}:{job_id.removeprefix(f'job-{w.guild.id}-')}"


async def schedule(
    w: World,
    by: int,
    description: str,
    hours: float,
    channel_id: int | None = None,
    reminders: Sequence[Reminder] = (),
) -> str:
    return await w.bot.jobs.schedule(
        "post_message",
        {"content": description},
        guild_id=w.guild.id,
        channel_id=channel_id or w.channel.id,
        scheduled_by=by,
        delay=timedelta(hours=hours),
        description=description,
        reminders=reminders,
    )


async def test_a_job_is_listed_only_to_those_who_may_see_its_channel(world: World) -> None:
    w = world
    hidden = discord.PermissionOverwrite(view_channel=False)
    shown = discord.PermissionOverwrite(view_channel=True)
    secret = w.guild.create_text_channel(
        "gm-only", overwrites={w.guild.default_role: hidden, w.player: shown}
    )
    await schedule(w, w.host.id, "Open quiz", 1)
    await schedule(w, w.player.id, "Secret plot", 2, channel_id=secret.id)
    # A channel the bot's cache does not know (deleted, or never seen).
    await schedule(w, w.host.id, "Orphan", 3, channel_id=424242424242424242)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 3))

    def titles(result: object) -> list[str]:
        body = texts(last_reply(answered(result)))  # type: ignore[arg-type]
        return [t for t in ("Open quiz", "Secret plot", "Orphan") if t in body]

    assert titles(await w.player.slash(w.channel, "schedule list")) == ["Open quiz", "Secret plot"]
    other = last_reply(answered(await w.other_player.slash(w.channel, "schedule list")))
    assert "Secret plot" not in texts(other) and "gm-only" not in texts(other)
    assert "1 waiting" in texts(other)
    # The host (Manage Roles, no view of gm-only) sees the orphan, to clean it up, not the secret.
    assert titles(await w.host.slash(w.channel, "schedule list")) == ["Open quiz", "Orphan"]
    # Turning pages and redrawing after a cancel filter the same way.
    refreshed = answered(await w.other_player.click(other, label="Refresh"))
    assert refreshed.response is not None and "Secret plot" not in texts(refreshed.response)


async def wait_for_in_this_task(awaitable: Awaitable[Any], timeout: float | None) -> Any:
    """asyncio.wait_for as Python 3.12 has it: the awaitable runs in the caller's task (3.11's
    runs it in a child task, a wait simcord cannot attribute)."""
    async with asyncio.timeout(timeout):
        return await awaitable


async def test_a_cancel_with_no_worker_running_is_answered_and_promises_nothing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio, "wait_for", wait_for_in_this_task)
    queue = f"no-worker-{uuid.uuid4().hex[:8]}"  # nothing polls it
    async with bot_env(client, queue) as w:
        job_id = await schedule(w, w.host.id, "Stuck", 1)
        try:
            await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
            dashboard = last_reply(answered(await w.host.slash(w.channel, "schedule list")))
            assert "Stuck" in texts(dashboard)
            # The update waits on the Temporal server, which simcord cannot see: declare it.
            update = w.bot.jobs.cancel

            async def cancel(*args: Any, **kwargs: Any) -> JobStatus:
                status: JobStatus = await w.env.external_wait(
                    update(*args, **kwargs), reason="an update no worker takes"
                )
                return status

            w.bot.jobs.cancel = cancel  # type: ignore[method-assign]
            clicked = answered(await w.host.click(dashboard, custom_id=await cancel_id(w, "d", job_id)))
            assert clicked.followups == []  # acknowledged, nothing claimed yet
            await w.env.advance_time(WORKER_WAIT + 1)
            await eventually(lambda: bool(clicked.followups))
            reply = last_reply(clicked)
            assert_message(reply, ephemeral=True)
            assert reply.content == NOT_ANSWERED
            assert "Cancelled" not in reply.content
        finally:
            await client.get_workflow_handle(job_id).terminate(reason="test clean-up")
            await eventually(lambda: listed(w.bot.jobs, w.guild.id, 0))


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
    assert f"<@{w.host.id}>" in body and f"<@{w.player.id}>" in body and ":R>)" in body
    # A player sees a Cancel button on their own job only, and may change only that one.
    assert custom_ids(dashboard, "jc:") == [await cancel_id(w, "d", b)]
    [change] = [c for c in walk_components(dashboard.components) if c.get("custom_id") == "jss:0"]
    assert [o["label"] for o in change["options"]] == ["Player's raid"]
    assert all(len(custom_id) <= 100 for custom_id in custom_ids(dashboard))

    # A player may not cancel a host's job, even with a button they were never shown (one on a
    # message posted before listings were drawn per viewer): a clear answer, nothing changed.
    old = await post_buttons(w, await cancel_id(w, "d", a))
    refused = answered(await w.player.click(old, custom_id=await cancel_id(w, "d", a)))
    assert_message(last_reply(refused), contains="Nothing was cancelled", ephemeral=True)
    assert "only a host or the user who scheduled" in last_reply(refused).content
    assert (await w.bot.jobs.status(a)).state == "waiting"

    # Their own job they may; the listing is redrawn without it.
    stale = last_reply(answered(await w.player.slash(w.channel, "schedule list")))
    own = answered(await w.player.click(dashboard, custom_id=await cancel_id(w, "d", b)))
    assert_message(last_reply(own), contains="Cancelled **Player's raid**", ephemeral=True)
    assert (await w.bot.jobs.status(b)).state == "cancelled"
    assert own.response is not None
    assert "Player's raid" not in texts(own.response) and custom_ids(own.response, "jc:") == []

    # A host may cancel anyone's job.
    hosts = answered(await w.host.slash(w.channel, "schedule list"))
    assert custom_ids(last_reply(hosts), "jc:") == [await cancel_id(w, "d", j) for j in (a, c)]
    by_host = answered(await w.host.click(last_reply(hosts), custom_id=await cancel_id(w, "d", c)))
    assert_message(last_reply(by_host), contains="Cancelled", ephemeral=True)
    assert (await w.bot.jobs.status(c)).state == "cancelled"

    # The player's other open listing was redrawn at their cancel: it no longer shows the job.
    assert "Player's raid" not in texts(stale)
    # A cancel for a job that is already over (a button on a message nobody redrew) changes
    # nothing and says so.
    old = await post_buttons(w, await cancel_id(w, "d", b))
    again = answered(await w.player.click(old, custom_id=await cancel_id(w, "d", b)))
    assert_message(last_reply(again), contains="already", ephemeral=True)


async def test_the_dashboard_pages(world: World) -> None:
    w = world
    jobs = [await schedule(w, w.host.id, f"Job {n}", 1 + n) for n in range(8)]
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 8))

    first = last_reply(answered(await w.host.slash(w.channel, "schedule list")))
    assert "page 1 of 2" in texts(first)
    assert custom_ids(first, "jc:") == [await cancel_id(w, "d", j) for j in jobs[:6]]
    assert len(list(walk_components(first.components))) <= 40

    turned = answered(await w.host.click(first, label="Next"))
    assert turned.response is not None
    assert "page 2 of 2" in texts(turned.response)
    assert custom_ids(turned.response, "jc:") == [await cancel_id(w, "d", j, 1) for j in jobs[6:]]
    back = answered(await w.host.click(turned.response, label="Previous"))
    assert back.response is not None and "page 1 of 2" in texts(back.response)


async def test_old_buttons_still_work_after_a_restart(world: World) -> None:
    w = world
    # Safari refuses results for a game nobody joined: someone joins first.
    posted = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    answered(await w.other_player.click(posted, label="Join"))
    modal = answered(await w.host.slash(w.channel, "safari schedule"))
    answered(await w.host.submit_modal(modal, {"when": "2h"}))
    [first] = w.jobs.started
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    panel = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    assert_message(panel, ephemeral=False)
    assert "Safari Round Results" in texts(panel) and ":R>)" in texts(panel)
    dashboard = last_reply(answered(await w.host.slash(w.channel, "schedule list")))
    old_cancel = await cancel_id(w, "d", first)
    assert custom_ids(dashboard, "jc:") == [old_cancel]

    await w.restart()

    # The panel's Schedule button opens the modal, and its submission is handled, by the new bot:
    # this round's results are already scheduled, so it is refused and nothing starts.
    shown = answered(await w.host.click(panel, label="Schedule results"))
    assert shown.modal is not None
    again = answered(await w.host.submit_modal(shown, {"when": "3h"}))
    assert "Nothing was scheduled" in last_reply(again).content
    assert w.jobs.started == []

    # A player cannot schedule from the panel either.
    refused = answered(await w.player.click(panel, label="Schedule results"))
    assert refused.modal is None
    assert_responded(refused, contains="Only a host", ephemeral=True)

    # Status, for anyone.
    status = answered(await w.player.click(panel, label="Status"))
    assert_message(last_reply(status), contains="Next Safari round results", ephemeral=True)

    # The panel shows nobody a Cancel button; a panel posted before that still had them: such a
    # button cancels, and that panel is redrawn as panels are now.
    assert custom_ids(panel, "jc:") == []
    old_panel = await post_buttons(w, await cancel_id(w, "s", first), layout=True)
    cancelled = answered(await w.host.click(old_panel, custom_id=await cancel_id(w, "s", first)))
    assert (await w.bot.jobs.status(first)).state == "cancelled"
    assert cancelled.response is not None
    assert custom_ids(cancelled.response, "jc:") == [] and "Manage" in str(cancelled.response.components)

    # Once cancelled (and closed), the round can be scheduled again from the old panel.
    async def closed() -> bool:
        described = await w.client.get_workflow_handle(first).describe()
        return described.status != WorkflowExecutionStatus.RUNNING

    await eventually(closed)
    shown = answered(await w.host.click(panel, label="Schedule results"))
    done = answered(await w.host.submit_modal(shown, {"when": "3h"}))
    assert_message(last_reply(done), contains="results** scheduled by", ephemeral=False)
    [second] = w.jobs.started  # the round's key again: a new run of the same job id
    assert (await w.bot.jobs.status(second)).state == "waiting"

    # The old dashboard's buttons too. Its Cancel names the round's job by its key, which the new
    # run reuses; the button was for the first run, so it is refused and the new one waits on.
    again = answered(await w.host.click(dashboard, custom_id=old_cancel))
    assert_message(last_reply(again), contains="Nothing was cancelled", ephemeral=True)
    assert "earlier run of this job" in last_reply(again).content
    assert (await w.bot.jobs.status(second)).state == "waiting"
    # Refresh draws the new run, and its Cancel cancels it.
    refreshed = answered(await w.host.click(dashboard, label="Refresh"))
    assert refreshed.response is not None
    assert custom_ids(refreshed.response, "jc:") == [await cancel_id(w, "d", second)]
    gone = answered(await w.host.click(refreshed.response, custom_id=await cancel_id(w, "d", second)))
    assert_message(last_reply(gone), contains="Cancelled", ephemeral=True)
    assert (await w.bot.jobs.status(second)).state == "cancelled"
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 0))


async def test_a_cancel_button_posted_before_buttons_carried_their_run_still_cancels(world: World) -> None:
    w = world
    job = await schedule(w, w.host.id, "Quiz night", 1)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    # A listing as the previous version of the bot posted it: its custom ids had no run.
    suffix = job.removeprefix(f"job-{w.guild.id}-")
    old = discord.ui.Button[Any](label="Cancel", custom_id=f"jobs:cancel:d:0:{suffix}")
    view = discord.ui.LayoutView()
    view.add_item(discord.ui.Container(discord.ui.Section("**Quiz night**", accessory=old)))
    channel = w.bot.get_channel(w.channel.id)
    assert isinstance(channel, discord.TextChannel)
    posted = await channel.send(view=view)
    clicked = answered(await w.host.click(posted, label="Cancel"))
    assert_message(last_reply(clicked), contains="Cancelled **Quiz night**", ephemeral=True)
    assert (await w.bot.jobs.status(job)).state == "cancelled"


async def test_join_goes_through_the_safari_store(world: World) -> None:
    w = world
    posted = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    joined = answered(await w.player.click(posted, label="Join"))
    assert_message(last_reply(joined), contains="You joined the Safari", ephemeral=True)
    again = answered(await w.player.click(posted, label="Join"))
    assert_message(last_reply(again), contains="already in the Safari", ephemeral=True)


async def test_in_time_turns_an_update_no_worker_takes_into_not_answered(client: Client) -> None:
    """The same, through Python's own asyncio.wait_for (no simcord): the SDK's error for a
    cancelled update must not escape as a bug report."""
    jobs = Jobs(client, f"no-worker-{uuid.uuid4().hex[:8]}")
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=9101,
        channel_id=9102,
        scheduled_by=9103,
        delay=timedelta(hours=1),
    )
    try:
        with pytest.raises(NotAnswered):
            await in_time(jobs.cancel(job_id, by=9103, guild_id=9101), seconds=1.0)
    finally:
        await client.get_workflow_handle(job_id).terminate(reason="test clean-up")


async def test_an_open_listing_keeps_itself_true(world: World) -> None:
    """Once a job that had fired, or been cancelled elsewhere, stayed listed (with its Cancel)
    until someone pressed Refresh."""
    w = world
    await schedule(w, w.host.id, "Quiz night", 1)
    bake_off = await schedule(w, w.host.id, "Bake-off", 2)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 2))
    shown = answered(await w.player.slash(w.channel, "schedule list"))
    assert "Bake-off" in texts(last_reply(shown))

    # Cancelled elsewhere (an operator's script): nothing tells the bot, which looks again.
    await Jobs(w.client, w.task_queue).cancel(bake_off, by=w.host.id, guild_id=w.guild.id, as_host=True)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    assert "Bake-off" in texts(last_reply(shown))
    await w.bot.live_listings.tick(now=utcnow() + timedelta(minutes=6))
    now = texts(last_reply(shown))
    assert "Bake-off" not in now and "Quiz night" in now and "1 waiting" in now


@pytest.mark.parametrize("message", ["\u200b\u200b", "\u3164", "\u2800 \u2060"])
async def test_a_post_or_repeat_that_would_show_nothing_is_refused_in_words(
    world: World, message: str
) -> None:
    w = world
    for when in ({"when": "1h"}, {"repeat": "news: every day at 09:00"}):
        reply = last_reply(
            answered(
                await w.host.slash(w.channel, "schedule post", channel=w.channel, message=message, **when)
            )
        )
        assert_message(
            reply,
            contains="Nothing was scheduled: the message has no visible characters (only spaces or "
            "invisible characters)",
            ephemeral=True,
        )
    assert w.jobs.started == []
    with pytest.raises(RPCError, match="not found"):
        await w.client.get_schedule_handle(f"repeat-{w.guild.id}-news").describe()
