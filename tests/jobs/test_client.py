"""The facade the bot uses: it refuses bad input before starting anything, and guards cancels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.jobs import JobNotFound, Jobs, NotAllowed, SchedulingError, format_remaining
from tests.support.jobs_doubles import SAFARI_REMINDERS, Doubles
from worker import build_worker
from workflows.jobs_models import Reminder

GUILD, OTHER_GUILD, CHANNEL, HOST, PLAYER = 501, 502, 503, 504, 505


@pytest.fixture
async def jobs(time_env: WorkflowEnvironment) -> AsyncIterator[Jobs]:
    doubles = Doubles(time_env)
    worker: Worker = build_worker(time_env.client, "facade", doubles.activities())
    async with worker:
        yield Jobs(time_env.client, "facade")


async def assert_not_started(env: WorkflowEnvironment, job_id: str) -> None:
    with pytest.raises(RPCError) as missing:
        await env.client.get_workflow_handle(job_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": timedelta(minutes=-5)}, "the time is in the past"),
        ({"delay": timedelta(days=366)}, "more than 365 days away"),
        (
            {"delay": timedelta(minutes=20), "reminders": SAFARI_REMINDERS},
            "'30 minutes' reminder would fall in the past",
        ),
        (
            {"delay": timedelta(hours=1), "action": "launch_rockets"},
            "no action named 'launch_rockets' is registered",
        ),
        ({"delay": timedelta(hours=1), "payload": {"content": ""}}, "bad payload for post_message: content"),
        ({"delay": timedelta(hours=1), "at": datetime.now(UTC)}, "give either a delay or a time"),
        (
            {"delay": timedelta(hours=1), "reminder_action": "nope", "reminders": SAFARI_REMINDERS},
            "no action named 'nope'",
        ),
        ({"delay": timedelta(hours=1), "key": "has spaces/and slashes"}, "key"),
        ({"delay": timedelta(hours=1), "action": "send_reminder"}, "send_reminder is a reminder action"),
        (
            {"delay": timedelta(hours=1), "reminder_action": "post_message", "reminders": SAFARI_REMINDERS},
            "post_message is not a reminder action",
        ),
    ],
)
async def test_bad_input_is_refused_and_nothing_starts(
    time_env: WorkflowEnvironment, jobs: Jobs, kwargs: dict[str, object], message: str
) -> None:
    call: dict[str, object] = {
        "action": "post_message",
        "payload": {"content": "hello"},
        "key": "refused",
        **kwargs,
    }
    with pytest.raises(SchedulingError) as refused:
        await jobs.schedule(guild_id=GUILD, channel_id=CHANNEL, scheduled_by=HOST, **call)  # type: ignore[arg-type]
    assert message in str(refused.value)
    await assert_not_started(time_env, f"job-{GUILD}-{call['key']}")


async def test_a_keyed_job_cannot_be_scheduled_twice(jobs: Jobs) -> None:
    await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
        key="round-1",
    )
    with pytest.raises(SchedulingError, match="already scheduled"):
        await jobs.schedule(
            "post_message",
            {"content": "x"},
            guild_id=GUILD,
            channel_id=CHANNEL,
            scheduled_by=HOST,
            delay=timedelta(hours=2),
            key="round-1",
        )
    assert await jobs.cancel_by_key("round-1", guild_id=GUILD, by=HOST)
    assert not await jobs.cancel_by_key("round-2", guild_id=GUILD, by=HOST)


async def test_cancel_is_guarded_by_guild_and_owner(jobs: Jobs) -> None:
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=PLAYER,
        delay=timedelta(hours=1),
        reminders=[Reminder(offset=timedelta(minutes=5), message="5 minutes")],
    )
    with pytest.raises(NotAllowed, match="another server"):
        await jobs.cancel(job_id, by=HOST, guild_id=OTHER_GUILD, as_host=True)
    with pytest.raises(NotAllowed, match="only a host or the user who scheduled"):
        await jobs.cancel(job_id, by=HOST, guild_id=GUILD)
    assert (await jobs.status(job_id)).state == "waiting"

    cancelled = await jobs.cancel(job_id, by=PLAYER, guild_id=GUILD)
    assert cancelled.state == "cancelled"
    with pytest.raises((NotAllowed, JobNotFound)):
        await jobs.cancel(job_id, by=PLAYER, guild_id=GUILD)


async def test_reschedule_moves_the_deadline(time_env: WorkflowEnvironment, jobs: Jobs) -> None:
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
    )
    with pytest.raises(SchedulingError, match="in the past"):
        await jobs.reschedule(job_id, by=HOST, guild_id=GUILD, delay=timedelta(minutes=-1))
    status = await jobs.reschedule(job_id, by=HOST, guild_id=GUILD, delay=timedelta(hours=3))
    assert status.deadline - datetime.now(UTC) > timedelta(hours=2, minutes=59)


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(days=2, hours=3, minutes=4, seconds=1), "2d 3h 5m"),
        (timedelta(minutes=44, seconds=30), "45m"),
        (timedelta(hours=4), "4h"),
        (timedelta(seconds=1), "1m"),
        (timedelta(0), "due now"),
        (timedelta(minutes=-3), "due now"),
    ],
)
def test_remaining_time_is_rounded_up_to_the_minute(left: timedelta, shown: str) -> None:
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert format_remaining(now + left, now) == shown
