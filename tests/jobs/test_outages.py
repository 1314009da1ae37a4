"""Discord outages and rate-limit storms on the time-skipping server: a reminder is never posted
after its last moment, a final action keeps trying for days, and the history stays small."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.jobs_doubles import Doubles, current_details, event_count, job, start
from workflows.jobs_models import JobResult, Reminder

SECONDS_REMINDERS = [
    Reminder(offset=timedelta(seconds=12), message="12 seconds"),
    Reminder(offset=timedelta(seconds=8), message="8 seconds"),
    Reminder(offset=timedelta(seconds=4), message="4 seconds"),
]


def assert_no_late_reminder(doubles: Doubles, result: JobResult, deadline: datetime) -> None:
    """Every reminder posted went out before its last moment and the deadline, once, and the
    result says "sent" for exactly those."""
    for reminder, posted in doubles.reminder_posts:
        assert reminder.post_by is not None and posted < reminder.post_by <= deadline, (
            f"{reminder.message} posted at {posted}, after its last moment {reminder.post_by}"
        )
    posted_messages = [reminder.message for reminder, _ in doubles.reminder_posts]
    assert len(posted_messages) == len(set(posted_messages))
    assert sorted(r.message for r in result.reminders if r.outcome == "sent") == sorted(posted_messages)
    for record in result.reminders:
        assert record.outcome == "sent" or record.reason, (
            f"{record.message}: {record.outcome} without a reason"
        )


async def test_a_discord_outage_past_the_deadline_posts_no_reminder_late(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    spec = job(now, timedelta(minutes=5), reminders=SECONDS_REMINDERS)
    # Discord is down from just before the first reminder until 10 s after the deadline.
    outage = (spec.deadline - timedelta(seconds=13), spec.deadline + timedelta(seconds=10))
    doubles.discord_down = lambda at: outage[0] <= at < outage[1]
    handle = await start(time_env, spec)
    result = await handle.result()

    assert doubles.reminder_posts == []
    assert_no_late_reminder(doubles, result, spec.deadline)
    # Each reminder retried in its own slot, until the next one was due (the last: until the
    # deadline), and says why it never went out.
    for record in result.reminders:
        assert record.outcome == "failed", record
        assert "Discord did not take it by" in str(record.reason)
    # The results still go out, once, when Discord is back.
    assert result.outcome == "done"
    [(_, posted)] = doubles.actions
    assert posted >= outage[1]
    # A reminder's retries are bounded by its last moment: no endless workflow-task heartbeats.
    assert await event_count(handle) < 120


async def test_a_429_storm_posts_each_reminder_once_in_time_or_not_at_all(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    reminders = [
        Reminder(offset=timedelta(seconds=20), message="20 seconds"),
        Reminder(offset=timedelta(seconds=10), message="10 seconds"),
        Reminder(offset=timedelta(seconds=5), message="5 seconds"),
    ]
    spec = job(now, timedelta(minutes=5), reminders=reminders)
    # Four posts in five are turned away with 429, from the first reminder on.
    doubles.reminder_throttled = lambda attempt: attempt % 5 != 0
    handle = await start(time_env, spec)
    result = await handle.result()

    assert_no_late_reminder(doubles, result, spec.deadline)
    # The first runs out of its slot after four attempts and gives way to the second, which
    # gets through on the storm's fifth attempt, in time; the last runs out of time.
    assert [r.message for r, _ in doubles.reminder_posts] == ["10 seconds"]
    assert [r.outcome for r in result.reminders] == ["failed", "sent", "failed"]
    assert result.outcome == "done" and len(doubles.actions) == 1
    assert await event_count(handle) < 120


async def test_results_are_posted_after_an_outage_longer_than_a_day(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[])
    back = spec.deadline + timedelta(hours=26)
    doubles.discord_down = lambda at: at < back
    handle = await start(time_env, spec)

    await time_env.sleep(timedelta(hours=2))
    waiting = await current_details(handle)
    assert "**running**" in waiting
    assert "waiting for Discord since" in waiting and "Discord is unavailable (503)" in waiting
    result = await handle.result()

    assert result.outcome == "done"
    [(_, posted)] = doubles.actions
    assert back <= posted <= back + timedelta(minutes=6)  # retries are at most 5 minutes apart
    # Hundreds of attempts, kept by the server: the history barely grows.
    assert doubles.action_attempts > 100
    assert await event_count(handle) < 40
    assert "waiting for Discord" not in await current_details(handle)
