"""Steering a job through the bot (simcord, real dev server): the listing's Change a job menu,
the panel's Move, Later/earlier, Pause, Resume and Run now, as a host and as a player; the
server's and a member's time zone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import discord
import pytest
import pytest_asyncio
from simcord import assert_message
from simcord.components import walk_components
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bot.cogs.custom_actions import task_line
from bot.jobs_steer import panel
from bot.jobs_ui import job_line
from clients.jobs import Jobs
from clients.jobs_listing import JobSummary
from tests.jobs.test_bot import custom_ids, listed, schedule, texts
from tests.support.bot_harness import (
    World,
    answered,
    as_datetime,
    bot_env,
    last_reply,
    post_items,
    unix_times,
)
from tests.support.jobs_doubles import Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows.jobs_models import Reminder, run_tag
from workflows.times import parse_when

pytestmark = pytest.mark.asyncio(loop_scope="module")
QUEUE = f"steer-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[World]:
    doubles = Doubles(WorkflowEnvironment.from_client(client))
    async with build_worker(client, QUEUE, doubles.activities()), bot_env(client, QUEUE) as w:
        yield w
        facade = Jobs(client, QUEUE)
        for job in await facade.get_jobs(w.guild.id):
            await facade.cancel(job.job_id, by=w.host.id, guild_id=w.guild.id, as_host=True)
        await eventually(lambda: listed(facade, w.guild.id, 0))


async def choice(w: World, job_id: str) -> str:
    run = (await w.client.get_workflow_handle(job_id).describe()).run_id
    return f"{run_tag(run)}:{job_id.removeprefix(f'job-{w.guild.id}-')}"


async def test_a_host_steers_a_job_from_the_listing(world: World) -> None:
    w = world
    job_id = await schedule(
        w, w.player.id, "Quiz night", 2, reminders=[Reminder(offset=timedelta(minutes=30), message="30m")]
    )
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    dashboard = last_reply(answered(await w.host.slash(w.channel, "schedule list")))
    assert custom_ids(dashboard, "jss:") == ["jss:0"]

    opened = answered(await w.host.select(dashboard, [await choice(w, job_id)], custom_id="jss:0"))
    panel = last_reply(opened)
    assert_message(panel, ephemeral=True)
    assert "Quiz night" in texts(panel) and "Due <t:" in texts(panel)
    assert "Next reminder: 30m before, <t:" in texts(panel)  # the host can check what players see next
    suffix = (await choice(w, job_id)).partition(":")[2]
    assert [c.split(":")[1] for c in custom_ids(panel, "js:")] == ["move", "shift", "run", "pause"]
    assert all(suffix in c for c in custom_ids(panel, "js:"))

    # Move to a time typed in the server's zone; the reply states the instant.
    await w.bot.time_zones.set_server(w.guild.id, "Europe/Paris")
    form = answered(await w.host.click(panel, label="Move…"))
    before = w.bot.jobs.now()
    moved = answered(await w.host.submit_modal(form, {"when": "tomorrow 20:00"}))
    expected = parse_when("tomorrow 20:00", "Europe/Paris", before)
    assert_message(last_reply(moved), contains="Moved **Quiz night** to", ephemeral=True)
    assert as_datetime(unix_times(last_reply(moved).content)[0]) == expected
    assert (await w.bot.jobs.status(job_id)).deadline == expected

    # Later by 30 minutes.
    form = answered(await w.host.click(panel, label="Later / earlier…"))
    shifted = answered(await w.host.submit_modal(form, {"by": "+30m"}))
    assert_message(last_reply(shifted), contains="30m later", ephemeral=True)
    assert (await w.bot.jobs.status(job_id)).deadline == expected + timedelta(minutes=30)

    # A typo is answered with the reason; nothing changes.
    form = answered(await w.host.click(panel, label="Move…"))
    bad = answered(await w.host.submit_modal(form, {"when": "someday"}))
    assert_message(last_reply(bad), contains="Nothing was changed", ephemeral=True)
    assert (await w.bot.jobs.status(job_id)).deadline == expected + timedelta(minutes=30)

    paused = answered(await w.host.click(panel, label="Pause"))
    assert_message(last_reply(paused), contains="Paused **Quiz night**", ephemeral=True)
    assert (await w.bot.jobs.status(job_id)).paused_left is not None

    # /schedule list shows it paused with the time it keeps, not its old deadline.
    async def listed_paused() -> bool:
        line = texts(last_reply(answered(await w.host.slash(w.channel, "schedule list"))))
        return "Quiz night" in line and "⏸️ paused, " in line and "due <t:" not in line

    await eventually(listed_paused)
    # The panel drawn now offers Resume instead.
    again = last_reply(answered(await w.host.select(dashboard, [await choice(w, job_id)], custom_id="jss:0")))
    assert "Paused with" in texts(again)
    resumed = answered(await w.host.click(again, label="Resume"))
    assert_message(last_reply(resumed), contains="Resumed **Quiz night**: due <t:", ephemeral=True)

    async def listed_due() -> bool:
        line = texts(last_reply(answered(await w.host.slash(w.channel, "schedule list"))))
        return "Quiz night" in line and "due <t:" in line and "paused" not in line

    await eventually(listed_due)

    ran = answered(await w.host.click(again, label="Run now"))
    assert_message(last_reply(ran), contains="is running now", ephemeral=True)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 0))
    status = await w.bot.jobs.status(job_id)
    assert status.state == "done"
    assert [c.by for c in status.changes] == [w.host.id] * 5


async def test_a_player_may_not_steer_another_members_job(world: World) -> None:
    w = world
    job_id = await schedule(w, w.host.id, "Host's round", 2)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    dashboard = last_reply(answered(await w.player.slash(w.channel, "schedule list")))
    # Their listing offers no control over it...
    assert "jss:0" not in str(dashboard.components) and "jc:" not in str(dashboard.components)
    # ...and a select that named it anyway (a listing drawn for someone else) is refused.
    host_listing = last_reply(answered(await w.host.slash(w.channel, "schedule list")))
    [select] = [c for c in walk_components(host_listing.components) if c.get("custom_id") == "jss:0"]
    options = [discord.SelectOption(label=o["label"], value=o["value"]) for o in select["options"]]
    shown = await post_items(w, discord.ui.Select(custom_id="jss:0", options=options))
    picked = answered(await w.player.select(shown, [await choice(w, job_id)], custom_id="jss:0"))
    assert_message(last_reply(picked), contains="Only a host or the member who scheduled", ephemeral=True)

    # Nor with a panel's buttons, on a message the player can see (as a panel posted in public).
    run, _, suffix = (await choice(w, job_id)).partition(":")
    channel = w.bot.get_channel(w.channel.id)
    assert isinstance(channel, discord.TextChannel)
    host_panel = await channel.send(view=panel(await w.bot.jobs.status(job_id), suffix, run))
    for label in ("Move…", "Later / earlier…", "Pause", "Run now"):
        refused = answered(await w.player.click(host_panel, label=label))
        assert_message(
            last_reply(refused), contains="Only a host or the member who scheduled", ephemeral=True
        )
    status = await w.bot.jobs.status(job_id)
    assert status.state == "waiting" and status.paused_left is None and status.changes == []


async def test_a_player_steers_their_own_job_in_their_own_zone(world: World) -> None:
    w = world
    job_id = await schedule(w, w.player.id, "Player's raid", 2)
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    typo = answered(await w.player.slash(w.channel, "schedule my-timezone", zone="America/New_Yrok"))
    assert_message(last_reply(typo), contains="Did you mean `America/New_York`", ephemeral=True)
    chosen = answered(await w.player.slash(w.channel, "schedule my-timezone", zone="america/new_york"))
    assert_message(last_reply(chosen), contains="America/New_York", ephemeral=True)
    refused = answered(await w.player.slash(w.channel, "schedule timezone", zone="Europe/Paris"))
    assert_message(last_reply(refused), contains="Only a host", ephemeral=True)

    dashboard = last_reply(answered(await w.player.slash(w.channel, "schedule list")))
    panel = last_reply(
        answered(await w.player.select(dashboard, [await choice(w, job_id)], custom_id="jss:0"))
    )
    form = answered(await w.player.click(panel, label="Move…"))
    before = w.bot.jobs.now()
    moved = answered(await w.player.submit_modal(form, {"when": "tomorrow 9:00"}))
    expected = parse_when("tomorrow 9:00", "America/New_York", before)
    assert as_datetime(unix_times(last_reply(moved).content)[0]) == expected
    assert (await w.bot.jobs.status(job_id)).deadline == expected


async def test_a_host_schedules_a_post_with_reminders_and_a_player_may_not(world: World) -> None:
    w = world
    await w.bot.time_zones.set_server(w.guild.id, "Europe/Paris")
    before = w.bot.jobs.now()
    done = answered(
        await w.host.slash(
            w.channel,
            "schedule post",
            channel=w.channel,
            message="Doors open!",
            when="tomorrow 20:00",
            reminders="1h, 10m",
        )
    )
    reply = last_reply(done)
    assert_message(reply, contains="Scheduled a post in", ephemeral=True)
    expected = parse_when("tomorrow 20:00", "Europe/Paris", before)
    assert as_datetime(unix_times(reply.content)[0]) == expected
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))
    (job,) = await w.bot.jobs.get_jobs(w.guild.id)
    status = await w.bot.jobs.status(job.job_id)
    assert status.action == "post_message" and status.deadline == expected
    assert status.next_reminder is not None and status.next_reminder.message == "1h"

    bad = answered(
        await w.host.slash(
            w.channel, "schedule post", channel=w.channel, message="x", when="2026-02-30 10:00"
        )
    )
    assert_message(last_reply(bad), contains="Nothing was scheduled", ephemeral=True)
    refused = answered(
        await w.player.slash(w.channel, "schedule post", channel=w.channel, message="spam", when="10m")
    )
    assert_message(last_reply(refused), contains="Only a host", ephemeral=True)
    assert len(await w.bot.jobs.get_jobs(w.guild.id)) == 1


async def test_a_repeat_typed_without_a_name_is_named_for_its_message(world: World) -> None:
    """`every day at 09:00` was refused ("name the repeat first"), and its own colon was read as
    the end of a name; a host who does not name a repeat gets one from its message's first words."""
    w = world
    for _ in range(2):
        made = answered(
            await w.host.slash(
                w.channel,
                "schedule post",
                channel=w.channel,
                message="Game night!",
                repeat="every day at 09:00",
            )
        )
        assert "Repeat **game-night" in last_reply(made).content
    assert await w.bot.repeats.names(w.guild.id) == ["game-night", "game-night-2"]


async def test_a_repeat_given_a_time_starts_at_it(world: World) -> None:
    """`when` with `repeat` was ignored: `every 6h` counted from midnight UTC, whatever was typed."""
    w = world
    made = last_reply(
        answered(
            await w.host.slash(
                w.channel,
                "schedule post",
                channel=w.channel,
                message="Stretch!",
                when="Friday 21:17",
                repeat="stretch: every 6h",
                reminders="10m",
            )
        )
    )
    first = as_datetime(unix_times(made.content)[0])
    zone = await w.bot.time_zones.for_user(w.guild.id, w.host.id)
    assert first.astimezone(ZoneInfo(zone)).strftime("%A %H:%M") == "Friday 21:17"
    info = await w.bot.repeats.info(w.guild.id, "stretch")
    assert info.next_times[:2] == [first, first + timedelta(hours=6)]
    await w.bot.repeats.end(w.guild.id, "stretch", by=w.host.id, as_host=True)


async def test_a_host_repeats_a_post_then_skips_changes_pauses_and_ends_it(world: World) -> None:
    w = world
    await w.bot.time_zones.set_server(w.guild.id, "Europe/Paris")
    made = answered(
        await w.host.slash(
            w.channel,
            "schedule post",
            channel=w.channel,
            message="Weekly quiz!",
            repeat="quiz: every Friday 20:00",
            ends="3 times",
            reminders="1h",
        )
    )
    reply = last_reply(made)
    assert_message(reply, contains="Repeat **quiz**", ephemeral=True)
    assert "every Friday at 20:00 (Europe/Paris), 3 times" in reply.content
    assert "Reminders: 1h before each." in reply.content
    first = as_datetime(unix_times(reply.content)[0])
    # The reply names the post's time, not its reminder's (the schedule fires at 19:00 for it).
    assert first.astimezone(ZoneInfo("Europe/Paris")).strftime("%A %H:%M") == "Friday 20:00"

    shown = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="quiz")))
    assert "active · 3 left" in shown.content
    # /schedule list shows it before its first occurrence is a job: not "Nothing is scheduled".
    hosts_list = texts(last_reply(answered(await w.host.slash(w.channel, "schedule list"))))
    assert "Nothing is scheduled" not in hosts_list and "### 🔁 Repeats" in hosts_list
    assert (
        f"**Post: Weekly quiz!** in <#{w.channel.id}>\nevery Friday at 20:00 (Europe/Paris) · next <t:"
        in hosts_list
    )
    assert "`/schedule repeat`" in hosts_list
    players_list = texts(last_reply(answered(await w.player.slash(w.channel, "schedule list"))))
    assert "**Post: Weekly quiz!**" in players_list and "/schedule repeat" not in players_list
    skipped = last_reply(
        answered(await w.host.slash(w.channel, "schedule repeat", name="quiz", do="skip-next"))
    )
    assert as_datetime(unix_times(skipped.content)[0]) == first
    paused = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="quiz", do="pause")))
    assert "paused" in paused.content and "Nothing more is posted until it is resumed" in paused.content
    assert not unix_times(paused.content)  # no times that will not come
    changed = last_reply(
        answered(
            await w.host.slash(
                w.channel, "schedule repeat", name="quiz", do="change", every="every day at 09:00"
            )
        )
    )
    assert "every day at 09:00 (Europe/Paris)" in changed.content
    resumed = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="quiz", do="resume")))
    assert "(Europe/Paris), active · 3 left" in resumed.content
    ran = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="quiz", do="run-now")))
    assert "Repeat **quiz**" in ran.content

    async def occurrence_listed() -> bool:
        return any("-rp.quiz-" in job.job_id for job in await w.bot.jobs.get_jobs(w.guild.id))

    await eventually(occurrence_listed)
    before = await w.bot.repeats.info(w.guild.id, "quiz")
    for do in ("show", "pause", "resume", "skip-next", "run-now", "change", "end"):
        refused = answered(
            await w.player.slash(w.channel, "schedule repeat", name="quiz", do=do, every="every 6h")
        )
        assert_message(last_reply(refused), contains="Only a host", ephemeral=True)
    assert await w.bot.repeats.info(w.guild.id, "quiz") == before
    ended = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="quiz", do="end")))
    assert "Ended **quiz**" in ended.content
    gone = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="quiz")))
    assert "no repeat named" in gone.content


async def test_the_safari_panel_steers_its_rounds(world: World) -> None:
    """A feature's own panel offers the same "Change a job…" menu as /schedule list, to hosts."""
    w = world
    posted = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    answered(await w.player.click(posted, label="Join"))
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    answered(await w.host.submit_modal(shown, {"when": "2h"}))
    [job_id] = w.jobs.started
    await eventually(lambda: listed(w.bot.jobs, w.guild.id, 1))

    # The public panel shows nobody a control they may not use: the menu is in the host's
    # Manage view (a player is refused Manage itself).
    safari_panel = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
    assert custom_ids(safari_panel, "jss:") == []
    refused = last_reply(answered(await w.player.click(safari_panel, label="Manage")))
    assert "Only a host" in refused.content
    managed = last_reply(answered(await w.host.click(safari_panel, label="Manage")))
    assert managed.ephemeral and custom_ids(managed, "jss:") == ["jss:0"]
    opened = last_reply(answered(await w.host.select(managed, [await choice(w, job_id)], custom_id="jss:0")))
    assert "Safari Round Results" in texts(opened)
    paused = last_reply(answered(await w.host.click(opened, label="Pause")))
    assert "Paused **Safari Round Results**" in paused.content
    assert (await w.bot.jobs.status(job_id)).paused_left is not None


async def test_a_host_repeats_a_custom_action_and_a_player_may_not(world: World) -> None:
    w = world
    await w.bot.time_zones.set_server(w.guild.id, "America/New_York")
    answered(await w.host.slash(w.channel, "action create", name="Patrol"))
    refused = answered(
        await w.player.slash(w.channel, "action repeat", action="Patrol", name="patrol", every="every 2h")
    )
    assert_message(last_reply(refused), contains="Only a host", ephemeral=True)

    made = last_reply(
        answered(
            await w.host.slash(
                w.channel,
                "action repeat",
                action="Patrol",
                name="patrol",
                every="every day at 09:00",
                times=2,
            )
        )
    )
    assert_message(made, contains="🔁 **Patrol** runs in", ephemeral=True)
    assert (
        "every day at 09:00 (America/New_York)" in made.content
        and "/schedule repeat name:patrol" in made.content
    )
    info = await w.bot.repeats.info(w.guild.id, "patrol")
    assert info.remaining == 2 and info.channel_id == w.channel.id
    assert as_datetime(unix_times(made.content)[0]) == info.next_times[0]
    assert info.next_times[0].astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "09:00"

    # Given its first run, an `every 2h` counts from it.
    started = last_reply(
        answered(
            await w.host.slash(
                w.channel,
                "action repeat",
                action="Patrol",
                name="watch",
                every="every 2h",
                starts="Friday 9:17pm",
            )
        )
    )
    first = as_datetime(unix_times(started.content)[0])
    assert first.astimezone(ZoneInfo("America/New_York")).strftime("%A %H:%M") == "Friday 21:17"
    await w.bot.repeats.end(w.guild.id, "watch", by=w.host.id, as_host=True)

    bad = last_reply(
        answered(
            await w.host.slash(w.channel, "action repeat", action="Patrol", name="p2", every="sometimes")
        )
    )
    assert bad.content.startswith("Nothing was repeated:")
    ended = last_reply(answered(await w.host.slash(w.channel, "schedule repeat", name="patrol", do="end")))
    assert "Ended **patrol**" in ended.content


async def test_a_paused_job_reads_paused_with_its_time_left_in_every_listing() -> None:
    due = datetime(2027, 1, 1, 20, 0, tzinfo=UTC)
    job = JobSummary(
        job_id="job-1-x",
        action="post_message",
        guild_id=1,
        channel_id=2,
        deadline=due,
        scheduled_by=3,
        key=None,
        description="Quiz night",
        paused_left=timedelta(minutes=50),
    )
    for line in (job_line(job), task_line(1, job)):
        assert "⏸️ paused, 50m left" in line and "<t:" not in line
    waiting = replace(job, paused_left=None)
    assert "due <t:" in job_line(waiting)
