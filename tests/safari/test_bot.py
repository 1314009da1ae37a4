"""Safari scheduling through the bot, in process (simcord), on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import discord
import pytest
import simcord
from simcord import assert_responded
from temporalio.testing import WorkflowEnvironment

from bot.cogs.safari import (
    RESULTS_ACTION,
    Scheduled,
    confirmation,
    safari_reminders,
)
from bot.modals import modal_values
from clients import safari as safari_client
from clients.safari import join, safari_store, setup_game
from clients.store import PersistentStore
from components.safari import SCHEDULE_MODAL
from tests.jobs.test_bot import texts
from tests.support.bot_harness import (
    World,
    answered,
    as_old_form,
    bot_env,
    last_reply,
    post_buttons,
    unix_times,
)
from tests.support.jobs_doubles import Doubles, assert_near
from tests.support.temporal import eventually
from worker import build_worker
from workflows import search_attributes as sa
from workflows.jobs_models import JobResult
from workflows.safari_engine import GAME_KEY, SafariSettings, new_game, store_name
from workflows.store_models import StoreLimits

QUEUE = "bot-safari"


def test_reminders_only_when_the_wait_is_long_enough() -> None:
    def plan(minutes: float) -> list[str]:
        return [r.message for r in safari_reminders(timedelta(minutes=minutes))]

    assert plan(90) == ["30 minutes", "5 minutes", "1 minute"]
    # Once a 40-minute wait got no 30-minute reminder (it needed more than 45).
    assert plan(40) == ["30 minutes", "5 minutes", "1 minute"]
    assert plan(30) == ["5 minutes", "1 minute"]  # a reminder at the very moment of scheduling: none
    assert plan(30.5) == ["30 minutes", "5 minutes", "1 minute"]
    assert plan(5) == ["1 minute"]
    assert plan(6) == ["5 minutes", "1 minute"]
    assert plan(1) == []
    assert plan(2) == ["1 minute"]
    offsets = [r.offset for r in safari_reminders(timedelta(hours=2))]
    assert offsets == [timedelta(minutes=30), timedelta(minutes=5), timedelta(minutes=1)]
    # The unit scales everything, for tests that run in seconds.
    short = safari_reminders(timedelta(seconds=12), unit=timedelta(seconds=1))
    assert [(r.offset.total_seconds(), r.message) for r in short] == [(5, "5 minutes"), (1, "1 minute")]


def test_the_reply_says_which_reminders_were_planned() -> None:
    def said(minutes: int) -> str:
        wait = timedelta(minutes=minutes)
        scheduled = Scheduled("job-1-x", datetime(2026, 1, 1, tzinfo=UTC), safari_reminders(wait), 2)
        return confirmation(7, scheduled).splitlines()[1]

    assert said(40) == "Reminders in this channel 30 minutes, 5 minutes and 1 minute before."
    assert said(20) == (
        "Reminders in this channel 5 minutes and 1 minute before. "
        "None 30 minutes before: the wait is shorter."
    )
    assert said(1) == "No reminders: the wait is a minute or less."


def test_modal_values_reads_labels_and_rows() -> None:
    data = [
        {"type": 18, "component": {"type": 4, "custom_id": "hours", "value": "2"}},
        {"type": 1, "components": [{"type": 4, "custom_id": "minutes", "value": ""}]},
    ]
    assert modal_values(data) == {"hours": "2", "minutes": ""}


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[World, Doubles]]:
    doubles = Doubles(time_env)
    async with (
        build_worker(time_env.client, QUEUE, doubles.activities()),
        bot_env(time_env.client, QUEUE) as w,
    ):
        yield w, doubles


async def players_join(w: World, count: int = 2) -> PersistentStore:
    """Players in the guild's game, so a round has somebody to pay."""
    store = await safari_store(w.client, w.guild.id, w.task_queue)
    for i in range(count):
        await join(store, 10**17 + i, f"player {i}")
    return store


@pytest.mark.wall_clock
async def test_a_host_schedules_through_the_modal(
    world: tuple[World, Doubles], time_env: WorkflowEnvironment
) -> None:
    w, doubles = world
    await players_join(w)
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    assert shown.modal is not None and shown.modal["title"] == "Schedule Safari results"

    before = w.bot.jobs.now()
    done = answered(await w.host.submit_modal(shown, {"when": "1h30m"}))

    assert_responded(done, contains="Round 1 results are scheduled", ephemeral=True)
    public = last_reply(done)
    assert not public.ephemeral and "Safari round 1 results" in public.content
    text = public.content
    assert f"<@{w.host.id}>" in text and "30 minutes, 5 minutes and 1 minute" in text
    shown_f, shown_r = unix_times(text)
    assert shown_f == shown_r
    [job_id] = w.jobs.started
    status = await w.bot.jobs.status(job_id)
    assert status.state == "waiting"
    assert status.action == RESULTS_ACTION
    assert status.scheduled_by == w.host.id and status.channel_id == w.channel.id
    assert status.guild_id == w.guild.id
    assert_near(status.deadline, before + timedelta(hours=1, minutes=30))
    # The confirmation shows the job's own deadline, as a Discord timestamp.
    assert shown_f == int(status.deadline.timestamp())
    assert status.next_reminder is not None and status.next_reminder.message == "30 minutes"
    assert status.next_reminder.due == status.deadline - timedelta(minutes=30)

    # Skip past the deadline: three reminders, then the results post, each on time. (Only a
    # handle from start_workflow skips time by itself while awaiting the result.)
    await time_env.sleep(timedelta(hours=2))
    result = await time_env.client.get_workflow_handle(job_id, result_type=JobResult).result()
    assert result.outcome == "done"
    assert [message for message, _ in doubles.reminders] == ["30 minutes", "5 minutes", "1 minute"]
    for (_, fired), offset in zip(doubles.reminders, (30, 5, 1), strict=True):
        assert_near(fired, status.deadline - timedelta(minutes=offset))
    [(action, fired)] = doubles.actions
    assert_near(fired, status.deadline)
    assert action.action == RESULTS_ACTION and action.payload == {"round": 1}
    assert action.channel_id == w.channel.id


@pytest.mark.wall_clock
async def test_a_short_wait_gets_only_the_reminders_that_fit(world: tuple[World, Doubles]) -> None:
    w, _ = world
    await players_join(w)
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    done = answered(await w.host.submit_modal(shown, {"when": "in 8m"}))
    said = last_reply(done).content
    assert "Reminders in this channel 5 minutes and 1 minute before. None 30 minutes before" in said
    [job_id] = w.jobs.started
    status = await w.bot.jobs.status(job_id)
    assert status.next_reminder is not None and status.next_reminder.message == "5 minutes"


async def test_a_player_is_refused_and_nothing_is_scheduled(world: tuple[World, Doubles]) -> None:
    w, _ = world
    refused = answered(await w.player.slash(w.channel, "safari schedule"))
    assert refused.modal is None
    assert_responded(refused, contains="Only a host", ephemeral=True)
    assert w.jobs.started == []


async def test_the_host_role_makes_a_player_a_host(world: tuple[World, Doubles]) -> None:
    w, _ = world
    role = w.guild.create_role("Safari Hosts")
    deputy = w.guild.add_member(w.env.create_user("deputy"), roles=[role])
    assert_responded(answered(await deputy.slash(w.channel, "safari schedule")), contains="Only a host")

    refused = answered(await w.player.slash(w.channel, "safari host-role", role=role))
    assert_responded(refused, contains="Manage Roles", ephemeral=True)
    assert await w.hosts.host_role(w.guild.id) is None

    set_role = answered(await w.host.slash(w.channel, "safari host-role", role=role))
    assert_responded(set_role, contains=role.mention, ephemeral=True)
    assert await w.hosts.host_role(w.guild.id) == role.id
    shown = answered(await deputy.slash(w.channel, "safari schedule"))
    assert shown.modal is not None
    assert answered(await w.player.slash(w.channel, "safari schedule")).modal is None

    cleared = answered(await w.host.slash(w.channel, "safari host-role"))
    assert_responded(cleared, contains="cleared", ephemeral=True)
    assert await w.hosts.host_role(w.guild.id) is None


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("soon", "“soon” is not a time: write a wait like `90m`"),
        ("0m", "at least 1 minute"),
        ("169h", "too long: at most 7 days"),
        ("8d", "too long: at most 7 days"),
        ("yesterday 10:00", "is not a day of the week"),
        ("\u0661h", "with the digits 0 to 9"),
    ],
)
async def test_bad_input_is_answered_and_changes_nothing(
    world: tuple[World, Doubles], when: str, says: str
) -> None:
    w, _ = world
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    done = last_reply(answered(await w.host.submit_modal(shown, {"when": when})))
    assert done.ephemeral and done.content.startswith("Nothing was scheduled.") and says in done.content
    assert w.jobs.started == []


async def test_a_time_of_day_is_read_in_the_hosts_zone(world: tuple[World, Doubles]) -> None:
    w, _ = world
    await players_join(w)
    await w.bot.time_zones.set_member(w.guild.id, w.host.id, "Asia/Tokyo")
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    now = w.bot.jobs.now()
    done = answered(await w.host.submit_modal(shown, {"when": "20:00"}))
    [job_id] = w.jobs.started
    status = await w.bot.jobs.status(job_id)
    local = status.deadline.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (20, 0) and timedelta(0) < status.deadline - now <= timedelta(days=1)
    # The reply states the instant as a Discord timestamp, which each reader sees in their zone.
    assert unix_times(last_reply(done).content)[0] == int(status.deadline.timestamp())


async def test_a_form_opened_before_the_when_field_is_still_read(world: tuple[World, Doubles]) -> None:
    """A modal shown before a restart into this release still has hours and minutes fields."""
    w, _ = world
    await players_join(w)
    shown = as_old_form(answered(await w.host.slash(w.channel, "safari schedule")), "hours", "minutes")
    before = w.bot.jobs.now()
    done = answered(await w.host.submit_modal(shown, {"hours": "1", "minutes": "30"}))
    assert "Safari round 1 results" in last_reply(done).content
    [job_id] = w.jobs.started
    assert_near((await w.bot.jobs.status(job_id)).deadline, before + timedelta(hours=1, minutes=30))

    again = as_old_form(answered(await w.host.slash(w.channel, "safari schedule")), "hours", "minutes")
    bad = last_reply(answered(await w.host.submit_modal(again, {"hours": "abc", "minutes": "0"})))
    assert bad.content.startswith("Nothing was scheduled.") and "Hours must be a whole number" in bad.content


async def test_an_unexpected_error_is_answered_and_logged(world: tuple[World, Doubles]) -> None:
    """A failure inside the modal handler (here: Temporal refusing) reaches the user as one line."""
    w, _ = world

    async def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the Temporal frontend is down")

    await players_join(w)
    w.bot.jobs.schedule = broken  # type: ignore[method-assign]
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    done = answered(await w.host.submit_modal(shown, {"when": "1h"}))
    assert_responded(done, contains="Something went wrong", ephemeral=True)


async def test_a_modal_no_feature_answers_any_more_is_still_answered(world: tuple[World, Doubles]) -> None:
    """A modal opened under an id the bot no longer routes (say, a feature since removed) gets a
    reply instead of Discord's "This interaction failed"."""
    w, _ = world
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    w.bot.modals.remove(SCHEDULE_MODAL)
    done = answered(await w.host.submit_modal(shown, {"when": "1h"}))
    assert_responded(done, contains="open it again", ephemeral=True)
    assert w.jobs.started == []


# --- what would fail at the deadline is refused when scheduled ------------------------------


def refused(result: simcord.InteractionResult, says: str) -> None:
    reply = last_reply(answered(result))
    assert reply.ephemeral, reply
    assert reply.content.startswith("Nothing was scheduled:") and says in reply.content, reply.content


async def submit(w: World, channel: simcord.ChannelHandle | None = None) -> simcord.InteractionResult:
    shown = answered(await w.host.slash(channel or w.channel, "safari schedule"))
    assert shown.modal is not None, last_reply(shown).content
    return await w.host.submit_modal(shown, {"when": "1h"})


async def test_no_game_or_nobody_joined_is_refused(world: tuple[World, Doubles]) -> None:
    w, _ = world
    refused(await submit(w), "nobody has joined the Safari yet")
    await setup_game(await safari_store(w.client, w.guild.id, w.task_queue))  # a game, no players
    refused(await submit(w), "nobody has joined the Safari yet")
    assert w.jobs.started == []


async def test_a_game_that_is_over_is_refused(world: tuple[World, Doubles]) -> None:
    w, _ = world
    store = await players_join(w)
    over = new_game(w.guild.id, SafariSettings(total_rounds=2)).model_copy(update={"current_round": 3})
    await store.set(GAME_KEY, over.model_dump(mode="json"))
    refused(await submit(w), "the Safari is over: all 2 rounds are resolved")
    assert w.jobs.started == []


async def test_a_game_too_big_for_its_store_is_refused(world: tuple[World, Doubles]) -> None:
    """A store that cannot take the round's record: the transaction would fail at the deadline."""
    w, _ = world
    # The guild's store, started with a small total (a store keeps the limits it started with).
    await PersistentStore.create(
        w.client, store_name(w.guild.id), w.task_queue, limits=StoreLimits(max_total_bytes=1_500)
    )
    await players_join(w, 6)
    refused(await submit(w), "the Safari's records are full")
    assert w.jobs.started == []


async def test_more_players_than_a_round_takes_is_refused(
    world: tuple[World, Doubles], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Players past the cap (written by other code than Join) would be left out of the round."""
    w, _ = world
    await players_join(w, 3)
    monkeypatch.setattr(safari_client, "MAX_PLAYERS", 2)
    refused(await submit(w), "the Safari has 3 players; a round takes at most 2")
    assert w.jobs.started == []


async def test_a_channel_without_manage_webhooks_is_refused_before_the_modal(
    world: tuple[World, Doubles],
) -> None:
    w, _ = world
    await players_join(w)
    me = w.guild.me
    assert me is not None
    closed = w.guild.create_text_channel(
        "no-webhooks", overwrites={me: discord.PermissionOverwrite(manage_webhooks=False)}
    )
    shown = answered(await w.host.slash(closed, "safari schedule"))
    assert shown.modal is None
    refused(shown, "the bot lacks Manage Webhooks in this channel")
    assert w.jobs.started == []


async def test_a_thread_is_refused_before_the_modal(world: tuple[World, Doubles]) -> None:
    w, _ = world
    await players_join(w)
    thread = simcord.ChannelHandle(
        w.env, w.guild, w.env.backend.create_thread(w.channel.id, "round talk", w.host.id)
    )
    shown = answered(await w.host.slash(thread, "safari schedule"))
    assert shown.modal is None
    refused(shown, "this is a thread, and webhooks")
    assert w.jobs.started == []


@pytest.mark.wall_clock
async def test_submitting_the_modal_twice_schedules_one_job(world: tuple[World, Doubles]) -> None:
    """Two submissions for the same round (the modal opened twice, both submitted)."""
    w, _ = world
    await players_join(w)
    shown = [answered(await w.host.slash(w.channel, "safari schedule")) for _ in range(2)]
    first = answered(await w.host.submit_modal(shown[0], {"when": "1h"}))
    assert "Safari round 1 results** scheduled" in last_reply(first).content
    refused(
        await w.host.submit_modal(shown[1], {"when": "2h"}),
        "round 1's results are already scheduled",
    )
    [job_id] = w.jobs.started
    assert job_id.endswith("safari-round-1")
    assert (await w.bot.jobs.status(job_id)).state == "waiting"

    # Once that job is cancelled, the round can be scheduled again (its key is free).
    await w.bot.jobs.cancel(job_id, by=w.host.id, guild_id=w.guild.id, as_host=True)
    again = last_reply(answered(await submit(w)))
    assert "Safari round 1 results** scheduled" in again.content
    assert w.jobs.started == [job_id, job_id]  # the same business key, a new run
    assert (await w.bot.jobs.status(job_id)).state == "waiting"


# --- steering a scheduled round from where it was announced ----------------------------------


@pytest.mark.wall_clock
async def test_a_round_is_steered_from_the_hosts_confirmation(world: tuple[World, Doubles]) -> None:
    w, doubles = world
    await players_join(w)
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    done = answered(await w.host.submit_modal(shown, {"when": "2h"}))
    post = last_reply(done)
    assert not post.ephemeral
    [job_id] = w.jobs.started
    due = (await w.bot.jobs.status(job_id)).deadline

    # The public post shows players no control they may not use; the host's own answer has
    # Change… (and a player pressing such a button anyway is refused).
    assert "Change" not in str(post.components)
    mine = done.response  # the deferred answer, seen by the host alone
    assert mine is not None and mine.ephemeral
    [change_id] = [c["custom_id"] for row in mine.components for c in row.get("components", [])]
    copied = await post_buttons(w, change_id)
    refused = last_reply(answered(await w.player.click(copied, custom_id=change_id)))
    assert refused.ephemeral and "Only a host or the member who scheduled" in refused.content

    panel = last_reply(answered(await w.host.click(mine, label="Change…")))
    assert panel.ephemeral and "Safari Round Results" in texts(panel)
    form = answered(await w.host.click(panel, label="Later / earlier…"))
    moved = last_reply(answered(await w.host.submit_modal(form, {"by": "+30m"})))
    assert "30m later" in moved.content
    assert (await w.bot.jobs.status(job_id)).deadline == due + timedelta(minutes=30)
    # The public post is corrected to the new time, for everyone who read the old one.
    await eventually(lambda: bool(doubles.announcements))
    [corrected] = doubles.announcements
    assert (
        corrected.message_id == post.id and f"🕒 changed by <@{w.host.id}>: now due <t:" in corrected.content
    )
    assert unix_times(corrected.content)[0] == int((due + timedelta(minutes=30)).timestamp())


async def test_an_operator_reads_the_channel_and_host_by_name(world: tuple[World, Doubles]) -> None:
    """The Web UI once showed a round's job with bare ids: its summary names the channel and the
    host as the bot saw them, and the list's Title column says the same."""
    w, _ = world
    await players_join(w)
    shown = answered(await w.host.slash(w.channel, "safari schedule"))
    answered(await w.host.submit_modal(shown, {"when": "2h"}))
    [job_id] = w.jobs.started
    described = await w.client.get_workflow_handle(job_id).describe()
    summary = await described.static_summary()
    assert summary is not None
    assert f"#safari ({w.channel.id})" in summary and f"host ({w.host.id})" in summary
    assert described.typed_search_attributes.get(sa.TITLE) == "Safari Round Results in #safari by host"
