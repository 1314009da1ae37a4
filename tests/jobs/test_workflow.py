"""The scheduled job workflow on the time-skipping server, with its actions replaced by doubles
registered under the same names."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.jobs_doubles import (
    CHANNEL,
    GUILD,
    HOST,
    SAFARI_REMINDERS,
    Doubles,
    assert_near,
    job,
    start,
)
from worker import build_worker
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import (
    CancelRequest,
    JobAnnouncement,
    OperatorCancel,
    Reminder,
    RescheduleRequest,
    SteerRequest,
)
from workflows.safari_engine import PROCESS_ROUND_RESULTS


async def test_reminders_fire_in_order_then_the_action(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    spec = job(now, timedelta(hours=1))
    result = await (await start(time_env, spec)).result()

    assert result.outcome == "done"
    assert [message for message, _ in doubles.reminders] == ["30 minutes", "5 minutes", "1 minute"]
    for (_, fired), reminder in zip(doubles.reminders, SAFARI_REMINDERS, strict=True):
        assert_near(fired, spec.deadline - reminder.offset)
    assert len(doubles.actions) == 1
    action, fired = doubles.actions[0]
    assert_near(fired, spec.deadline)
    assert action.payload == {"content": "Round results!"}
    assert [r.outcome for r in result.reminders] == ["sent", "sent", "sent"]
    # No reminder fires after the action.
    assert all(when <= fired for _, when in doubles.reminders)


async def test_reminders_that_do_not_fit_are_not_planned(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    result = await (await start(time_env, job(now, timedelta(minutes=3)))).result()

    assert [message for message, _ in doubles.reminders] == ["1 minute"]
    assert [r.message for r in result.reminders] == ["1 minute"]
    assert len(doubles.actions) == 1


async def test_cancel_stops_everything_after_it(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=40))  # past the 30-minute reminder
    status = await handle.execute_update(
        ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=GUILD, reason="round postponed")
    )
    result = await handle.result()
    await time_env.sleep(timedelta(hours=2))

    assert status.state == "cancelled"
    assert result.outcome == "cancelled"
    assert result.by == HOST and result.reason == "round postponed"
    assert [message for message, _ in doubles.reminders] == ["30 minutes"]
    assert doubles.actions == []


async def test_cancel_is_refused_across_guilds_and_for_other_players(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))

    with pytest.raises(WorkflowUpdateFailedError) as other_guild:
        await handle.execute_update(
            ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=999, as_host=True)
        )
    assert "another server" in str(other_guild.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as other_player:
        await handle.execute_update(ScheduledJobWorkflow.cancel, CancelRequest(by=444, guild_id=GUILD))
    assert "only a host or the user who scheduled" in str(other_player.value.cause)

    # A host of the same guild may cancel a job someone else scheduled.
    await handle.execute_update(
        ScheduledJobWorkflow.cancel, CancelRequest(by=444, guild_id=GUILD, as_host=True)
    )
    assert (await handle.result()).outcome == "cancelled"


async def test_a_caller_claiming_to_be_a_host_without_the_role_is_refused_by_the_job(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    doubles.discord_guild.hosts = {(GUILD, 445)}  # what Discord says: 445 is a host, 444 is not

    for update, request in [
        (ScheduledJobWorkflow.cancel, CancelRequest(by=444, guild_id=GUILD, as_host=True)),
        (ScheduledJobWorkflow.run_now, SteerRequest(by=444, guild_id=GUILD, as_host=True)),
        (ScheduledJobWorkflow.pause, SteerRequest(by=444, guild_id=GUILD, as_host=True)),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(update, request)  # type: ignore[call-overload]
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.message.startswith("Only a host of this server"), refused.value.cause
    assert (await handle.query(ScheduledJobWorkflow.status)).state == "waiting"
    # The job's own scheduler needs no check; a host Discord confirms may change it.
    await handle.execute_update(
        ScheduledJobWorkflow.cancel, CancelRequest(by=445, guild_id=GUILD, as_host=True)
    )
    assert (await handle.result()).outcome == "cancelled"
    assert [(q.guild_id, q.user_id) for q in doubles.discord_guild.asked] == [(GUILD, 444)] * 3 + [
        (GUILD, 445)
    ]
    assert doubles.actions == []


async def test_reschedule_later_replans_the_reminders(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=40))  # the 30-minute reminder has been sent
    later = now + timedelta(hours=3)
    status = await handle.execute_update(
        ScheduledJobWorkflow.reschedule, RescheduleRequest(deadline=later, by=HOST, guild_id=GUILD)
    )
    assert status.deadline == later
    assert status.next_reminder is not None and status.next_reminder.message == "30 minutes"
    result = await handle.result()

    # The 30-minute reminder is true again for the new deadline, so it is sent again.
    assert [m for m, _ in doubles.reminders] == ["30 minutes", "30 minutes", "5 minutes", "1 minute"]
    assert_near(doubles.reminders[1][1], later - timedelta(minutes=30))
    assert result.outcome == "done"
    assert_near(doubles.actions[0][1], later)


async def test_reschedule_earlier_drops_reminders_already_past(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=2)))
    await time_env.sleep(timedelta(minutes=10))
    sooner = now + timedelta(minutes=13)  # 3 minutes from now: only the 1-minute reminder fits
    await handle.execute_update(
        ScheduledJobWorkflow.reschedule, RescheduleRequest(deadline=sooner, by=HOST, guild_id=GUILD)
    )
    await handle.result()

    assert [m for m, _ in doubles.reminders] == ["1 minute"]
    assert_near(doubles.actions[0][1], sooner)


async def test_reschedule_into_the_past_is_refused(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    for deadline, expected in (
        (now - timedelta(minutes=1), "in the past"),
        (now + timedelta(days=400), "more than 365 days"),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ScheduledJobWorkflow.reschedule, RescheduleRequest(deadline=deadline, by=HOST, guild_id=GUILD)
            )
        assert expected in str(refused.value.cause)
    assert (await handle.query(ScheduledJobWorkflow.status)).deadline == now + timedelta(hours=1)


async def test_overdue_job_after_downtime_runs_once_with_reminders_skipped(
    time_env: WorkflowEnvironment, doubles: Doubles
) -> None:
    now = await time_env.get_current_time()
    # The job's first workflow task is handed to a worker two hours after it was scheduled, as
    # when no worker ran in between. (The time-skipping server cannot skip time while a task
    # waits for a worker, so the delay stands in for the outage; the end-to-end tests kill a
    # real worker.)
    handle = await time_env.client.start_workflow(
        ScheduledJobWorkflow.run,
        # Safari results run however late (a scheduled post this late is missed: test_late_policy.py).
        job(now, timedelta(hours=1)).model_copy(update={"action": PROCESS_ROUND_RESULTS}),
        id=f"job-{GUILD}-overdue",
        task_queue="jobs",
        start_delay=timedelta(hours=2),
    )
    async with build_worker(time_env.client, "jobs", doubles.activities()):
        result = await handle.result()

    assert doubles.reminders == []
    assert len(doubles.actions) == 1
    assert result.outcome == "done"
    assert [(r.message, r.outcome) for r in result.reminders] == [
        ("30 minutes", "skipped"),
        ("5 minutes", "skipped"),
        ("1 minute", "skipped"),
    ]
    # What really happened, not a guess at why: the 30-minute reminder was 90 minutes late.
    first = result.reminders[0]
    assert first.reason is not None
    assert re.fullmatch(
        rf"due {first.due:%H:%M:%S}, fired 54\d\d s late: at the deadline, not sent", first.reason
    )


async def test_of_reminders_due_together_only_the_latest_is_sent(
    time_env: WorkflowEnvironment, doubles: Doubles
) -> None:
    """After an outage (or under overload) two reminders can both be due, each within its grace:
    "10 minutes left" with 9 left says what is not so; only the later one is posted."""
    now = await time_env.get_current_time()
    reminders = [
        Reminder(offset=timedelta(minutes=10), message="10 minutes"),
        Reminder(offset=timedelta(minutes=9, seconds=30), message="9½ minutes"),
        Reminder(offset=timedelta(minutes=1), message="1 minute"),
    ]
    spec = job(now, timedelta(hours=1), reminders=reminders)
    # The first task reaches a worker 9 m 10 s before the deadline: the 10-minute reminder is
    # 50 s late, the 9½-minute one 20 s, both within their minute of grace.
    handle = await start(time_env, spec, start_delay=timedelta(minutes=50, seconds=50))
    async with build_worker(time_env.client, "jobs", doubles.activities()):
        result = await handle.result()

    assert [message for message, _ in doubles.reminders] == ["9½ minutes", "1 minute"]
    assert [(r.message, r.outcome) for r in result.reminders] == [
        ("10 minutes", "skipped"),
        ("9½ minutes", "sent"),
        ("1 minute", "sent"),
    ]
    reason = result.reminders[0].reason or ""
    assert reason.endswith("the 9½ minutes reminder is due too, and only the latest is sent"), reason
    assert len(doubles.actions) == 1 and result.outcome == "done"


async def test_transient_action_failures_are_retried(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    def flaky(attempt: int) -> None:
        if attempt < 3:
            raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")

    doubles.action_behaviour = flaky
    now = await time_env.get_current_time()
    result = await (await start(time_env, job(now, timedelta(minutes=10), reminders=[]))).result()

    assert result.outcome == "done"
    assert doubles.action_attempts == 3
    assert len(doubles.actions) == 1


async def test_permanent_action_failure_is_recorded_and_announced(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    def gone(attempt: int) -> None:
        raise ApplicationError(
            "Discord refused (404, code 10003): Unknown Channel", type="DiscordRejected", non_retryable=True
        )

    doubles.action_behaviour = gone
    now = await time_env.get_current_time()
    result = await (await start(time_env, job(now, timedelta(minutes=10), reminders=[]))).result()

    assert result.outcome == "failed"
    assert result.reason is not None and "Unknown Channel" in result.reason
    assert doubles.action_attempts == 1
    assert [n.reason for n in doubles.notices] == [result.reason]


def announce() -> JobAnnouncement:
    return JobAnnouncement(channel_id=CHANNEL, message_id=555, title="🦁 **Safari round 1 results**")


@pytest.mark.parametrize("ending", ["fires", "cancelled by the host", "cancelled by an operator", "fails"])
async def test_a_public_announcement_is_edited_when_its_job_ends(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, ending: str
) -> None:
    """Once players were not told a host had cancelled a round: the public "results in 3
    minutes" post stayed as it was."""
    if ending == "fails":

        def refused(attempt: int) -> None:
            raise ApplicationError("Unknown Channel", type="DiscordRejected", non_retryable=True)

        doubles.action_behaviour = refused
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await handle.signal(ScheduledJobWorkflow.announced, announce())
    await time_env.sleep(timedelta(minutes=40))
    if ending == "cancelled by the host":
        await handle.execute_update(ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=GUILD))
    elif ending == "cancelled by an operator":
        await handle.signal(ScheduledJobWorkflow.operator_cancel, OperatorCancel(by="ops-alice"))
    result = await handle.result()

    [edit] = doubles.announcements
    assert (edit.channel_id, edit.message_id) == (CHANNEL, 555)
    assert edit.content.startswith("🦁 **Safari round 1 results**: ")
    expected = {
        "fires": "✅ posted",
        "cancelled by the host": f"❌ cancelled by <@{HOST}>",
        "cancelled by an operator": "❌ cancelled by ops-alice",
        "fails": "⚠️ could not be posted",
    }[ending]
    assert expected in edit.content
    assert result.outcome == {"fires": "done", "fails": "failed"}.get(ending, "cancelled")


async def test_a_job_nobody_announced_edits_nothing(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    await (await start(time_env, job(now, timedelta(minutes=10)))).result()
    assert doubles.announcements == []
