"""Hosts steer a waiting job: move it (in a named zone, across a daylight-saving change), move it
by a duration, pause and resume it, run it now; on the time-skipping server."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.jobs_doubles import GUILD, HOST, Doubles, assert_near, current_details, job, start
from tests.support.temporal import eventually
from worker import build_worker
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import JobAnnouncement, RescheduleRequest, ShiftRequest, SteerRequest
from workflows.times import discord_time, parse_when

PLAYER = 444


def next_spring_forward(zone: ZoneInfo, after: date) -> date:
    """The first day after `after` whose noon is an hour further from UTC than the day before's."""
    day = after + timedelta(days=1)
    while True:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset()
        before = datetime(day.year, day.month, day.day, 12, tzinfo=zone) - timedelta(days=1)
        if noon is not None and noon > (before.utcoffset() or noon):
            return day
        day += timedelta(days=1)


async def test_a_move_across_a_daylight_saving_change_lands_on_the_local_time_meant(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    paris = ZoneInfo("Europe/Paris")
    change = next_spring_forward(paris, now.astimezone(paris).date())
    handle = await start(time_env, job(now, timedelta(hours=1), reminders=[]))
    typed = f"{change:%Y-%m-%d} 20:00"
    target = parse_when(typed, "Europe/Paris", now)
    # 20:00 on the day the clocks go forward is 18:00 UTC (summer time), not 19:00 (the offset now).
    assert target == datetime(change.year, change.month, change.day, 18, 0, tzinfo=UTC)
    status = await handle.execute_update(
        ScheduledJobWorkflow.reschedule, RescheduleRequest(deadline=target, by=HOST, guild_id=GUILD)
    )
    assert status.deadline == target
    result = await handle.result()

    assert result.outcome == "done"
    assert_near(doubles.actions[0][1], target)


async def test_reminders_after_moves_are_posted_once_each_and_none_after_the_deadline(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=40))  # the 30-minute reminder has been sent
    await handle.execute_update(
        ScheduledJobWorkflow.shift, ShiftRequest(by_how_much=timedelta(hours=1), by=HOST, guild_id=GUILD)
    )
    await time_env.sleep(timedelta(minutes=5))
    status = await handle.execute_update(
        ScheduledJobWorkflow.shift, ShiftRequest(by_how_much=-timedelta(minutes=20), by=HOST, guild_id=GUILD)
    )
    deadline = now + timedelta(hours=1, minutes=40)
    assert status.deadline == deadline
    result = await handle.result()

    posted = [(post.message, post.deadline) for post, _ in doubles.reminder_posts]
    assert len(posted) == len(set(posted))  # once per reminder and deadline
    assert [m for m, _ in doubles.reminders] == ["30 minutes", "30 minutes", "5 minutes", "1 minute"]
    assert_near(doubles.reminders[1][1], deadline - timedelta(minutes=30))
    action_at = doubles.actions[0][1]
    assert_near(action_at, deadline)
    assert all(at <= action_at for _, at in doubles.reminders)
    assert result.outcome == "done"
    # The history says who moved it, and how.
    assert [c.what.split(",")[0] for c in status.changes] == ["moved 1h later", "moved 20m earlier"]
    assert all(c.by == HOST for c in status.changes)


async def test_pause_keeps_the_time_left_and_nothing_fires_while_paused(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=10))
    paused = await handle.execute_update(ScheduledJobWorkflow.pause, SteerRequest(by=HOST, guild_id=GUILD))
    assert paused.paused_left is not None
    assert_near(now + timedelta(hours=1) - paused.paused_left, now + timedelta(minutes=10))
    await time_env.sleep(timedelta(hours=5))
    assert doubles.reminders == [] and doubles.actions == []
    assert "paused, 50m left" in await current_details(handle)

    resumed_at = await time_env.get_current_time()
    status = await handle.execute_update(ScheduledJobWorkflow.resume, SteerRequest(by=HOST, guild_id=GUILD))
    assert status.paused_left is None
    assert_near(status.deadline, resumed_at + paused.paused_left)
    await handle.result()

    assert [m for m, _ in doubles.reminders] == ["30 minutes", "5 minutes", "1 minute"]
    assert_near(doubles.actions[0][1], status.deadline)
    assert len(doubles.actions) == 1


async def test_run_now_runs_the_action_once(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=10))
    status = await handle.execute_update(ScheduledJobWorkflow.run_now, SteerRequest(by=HOST, guild_id=GUILD))
    assert status.state == "running"
    result = await handle.result()
    await time_env.sleep(timedelta(hours=2))

    assert result.outcome == "done"
    assert len(doubles.actions) == 1
    assert_near(doubles.actions[0][1], now + timedelta(minutes=10))
    assert doubles.reminders == []
    assert {r.outcome for r in result.reminders} == {"skipped"}
    # Once it runs, a cancel is refused: the reply said it runs.
    # (The job is over, so the update cannot reach it at all.)


async def test_a_move_racing_the_deadline_does_what_the_reply_said(
    time_env: WorkflowEnvironment, doubles: Doubles
) -> None:
    now = await time_env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[])
    first = Worker(
        time_env.client,
        task_queue="jobs",
        workflows=[ScheduledJobWorkflow],
        activities=doubles.activities(),
        max_cached_workflows=0,
    )
    async with first:
        handle = await start(time_env, spec)
        await handle.query(ScheduledJobWorkflow.status)  # the deadline timer runs
    # No worker: the deadline passes, then the move is sent; both reach the next task together.
    await time_env.sleep(spec.deadline - await time_env.get_current_time() + timedelta(seconds=2))
    move = asyncio.create_task(
        handle.execute_update(
            ScheduledJobWorkflow.shift,
            ShiftRequest(by_how_much=timedelta(hours=1), by=HOST, guild_id=GUILD),
        )
    )
    await asyncio.sleep(0.5)
    async with build_worker(time_env.client, "jobs", doubles.activities()):
        status = await move
        result = await handle.result()

    assert status.deadline == spec.deadline + timedelta(hours=1)
    assert result.outcome == "done"
    assert len(doubles.actions) == 1
    assert_near(doubles.actions[0][1], status.deadline)


@pytest.mark.parametrize(
    ("update", "request_"),
    [
        ("shift", ShiftRequest(by_how_much=timedelta(minutes=5), by=PLAYER, guild_id=GUILD)),
        ("pause", SteerRequest(by=PLAYER, guild_id=GUILD)),
        ("run_now", SteerRequest(by=PLAYER, guild_id=GUILD)),
        ("pause", SteerRequest(by=HOST, guild_id=GUILD + 1, as_host=True)),
    ],
)
async def test_a_member_who_is_not_a_host_nor_the_owner_is_refused_by_the_workflow(
    time_env: WorkflowEnvironment,
    doubles: Doubles,
    worker: Worker,
    update: str,
    request_: ShiftRequest | SteerRequest,
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(update, request_)
    assert re.search("only a host|another server", str(refused.value.cause))
    status = await handle.query(ScheduledJobWorkflow.status)
    assert status.deadline == now + timedelta(hours=1) and status.paused_left is None
    assert status.state == "waiting" and status.changes == []


async def test_resume_when_not_paused_and_move_while_paused_are_refused(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ScheduledJobWorkflow.resume, SteerRequest(by=HOST, guild_id=GUILD))
    assert "not paused" in str(refused.value.cause)
    await handle.execute_update(ScheduledJobWorkflow.pause, SteerRequest(by=HOST, guild_id=GUILD))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            ScheduledJobWorkflow.shift,
            ShiftRequest(by_how_much=timedelta(minutes=5), by=HOST, guild_id=GUILD),
        )
    assert "resume it" in str(refused.value.cause)


async def test_a_repeat_occurrence_is_due_lead_after_it_starts_with_its_reminders_before(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    # The spec's own deadline is the repeat's first; an occurrence computes its own.
    spec = job(now, timedelta(days=3)).model_copy(update={"lead": timedelta(minutes=40)})
    handle = await start(time_env, spec)
    status = await handle.query(ScheduledJobWorkflow.status)
    assert_near(status.deadline, now + timedelta(minutes=40))
    await handle.result()

    assert [m for m, _ in doubles.reminders] == ["30 minutes", "5 minutes", "1 minute"]
    assert_near(doubles.reminders[0][1], now + timedelta(minutes=10))
    assert_near(doubles.actions[0][1], now + timedelta(minutes=40))


async def test_every_move_corrects_the_public_announcement_so_players_are_told(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1), reminders=[]))
    post = JobAnnouncement(channel_id=GUILD, message_id=555, title="📣 **Game night**")
    await handle.signal(ScheduledJobWorkflow.announced, post)

    async def edited(count: int) -> str:
        await eventually(lambda: len(doubles.announcements) == count)
        edit = doubles.announcements[-1]
        assert edit.message_id == 555 and edit.content.startswith("📣 **Game night**: ")
        return edit.content

    shifted = await handle.execute_update(
        ScheduledJobWorkflow.shift, ShiftRequest(by_how_much=timedelta(minutes=30), by=HOST, guild_id=GUILD)
    )
    text = await edited(1)
    assert f"changed by <@{HOST}>: now due {discord_time(shifted.deadline, 'F')}" in text
    assert discord_time(now + timedelta(minutes=90), "F") in text

    moved = now + timedelta(hours=3)
    await handle.execute_update(
        ScheduledJobWorkflow.reschedule,
        RescheduleRequest(deadline=moved, by=PLAYER, guild_id=GUILD, as_host=True),
    )
    assert f"changed by <@{PLAYER}>: now due {discord_time(moved, 'F')}" in await edited(2)

    await time_env.sleep(timedelta(minutes=20))
    await handle.execute_update(ScheduledJobWorkflow.pause, SteerRequest(by=HOST, guild_id=GUILD))
    assert f"⏸️ paused by <@{HOST}> with 2h 40m left" in await edited(3)

    await time_env.sleep(timedelta(hours=5))
    resumed = await handle.execute_update(ScheduledJobWorkflow.resume, SteerRequest(by=HOST, guild_id=GUILD))
    assert f"now due {discord_time(resumed.deadline, 'F')}" in await edited(4)

    await handle.execute_update(ScheduledJobWorkflow.run_now, SteerRequest(by=HOST, guild_id=GUILD))
    result = await handle.result()
    assert "✅ posted" in await edited(5)
    assert result.outcome == "done" and len(doubles.actions) == 1
