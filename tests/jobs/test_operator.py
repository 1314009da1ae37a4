"""Operators' paths on the time-skipping server: the `operator_cancel` signal (Web UI, CLI),
Temporal's own cancellation, and a cancel that reaches the job in the same task as its deadline."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.jobs_doubles import HOST, Doubles, assert_near, current_details, job, start
from worker import build_worker
from workflows.jobs import OPERATOR_CANCEL, ScheduledJobWorkflow
from workflows.jobs_models import OperatorCancel


async def test_the_operator_signal_cancels_and_says_who(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=40))  # the 30-minute reminder has been sent
    signalled = await time_env.get_current_time()
    await handle.signal(
        ScheduledJobWorkflow.operator_cancel, OperatorCancel(by="alice", reason="wrong channel")
    )
    result = await handle.result()
    await time_env.sleep(timedelta(hours=2))

    assert result.outcome == "cancelled"
    assert_near(result.at, signalled)  # at once, not at the next timer
    assert result.operator == "alice" and result.reason == "wrong channel" and result.by is None
    assert [message for message, _ in doubles.reminders] == ["30 minutes"]
    assert doubles.actions == []
    # The host did not see it happen: the job's channel is told, naming who and why.
    [notice] = doubles.cancel_notices
    assert (notice.channel_id, notice.scheduled_by, notice.by, notice.reason) == (
        222,
        HOST,
        "alice",
        "wrong channel",
    )
    details = await current_details(handle)
    assert "**cancelled**" in details and "cancelled by alice: wrong channel" in details


async def test_an_operator_signal_by_its_registered_name_with_a_loose_input(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    """What `temporal workflow signal --name operator_cancel --input ...` sends: plain JSON, maybe
    with a key the model does not know and an over-long reason; it still cancels."""
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await handle.signal(OPERATOR_CANCEL, {"by": "bob", "reason": "x" * 500, "ticket": 42})
    result = await handle.result()

    assert result.outcome == "cancelled" and result.operator == "bob"
    assert result.reason == "x" * 200
    assert doubles.actions == []


async def test_temporal_cancellation_ends_the_job_as_cancelled_and_tells_the_channel(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(hours=1)))
    await time_env.sleep(timedelta(minutes=10))
    await handle.cancel(reason="clean-up after the incident")
    result = await handle.result()

    assert result.outcome == "cancelled"
    assert result.operator == "Temporal cancellation" and result.reason == "clean-up after the incident"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    [notice] = doubles.cancel_notices
    assert notice.by == "Temporal cancellation"
    assert doubles.actions == [] and doubles.reminders == []
    details = await current_details(handle)
    assert "**cancelled**" in details and "waiting" not in details


async def test_the_operator_signal_stops_an_action_that_waits_for_discord(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    doubles.discord_down = lambda at: True
    now = await time_env.get_current_time()
    handle = await start(time_env, job(now, timedelta(minutes=5), reminders=[]))
    await time_env.sleep(timedelta(hours=3))
    assert "waiting for Discord" in await current_details(handle)
    await handle.signal(ScheduledJobWorkflow.operator_cancel, OperatorCancel(by="carol"))
    result = await handle.result()

    assert result.outcome == "cancelled" and result.operator == "carol"
    assert doubles.actions == []


async def test_a_cancel_in_the_same_task_as_the_deadline_wins(
    time_env: WorkflowEnvironment, doubles: Doubles
) -> None:
    now = await time_env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[])
    # No workflow cache, so no sticky queue: the test server would keep the next task there.
    first = Worker(
        time_env.client,
        task_queue="jobs",
        workflows=[ScheduledJobWorkflow],
        activities=doubles.activities(),
        max_cached_workflows=0,
    )
    async with first:
        handle = await start(time_env, spec)
        await handle.query(ScheduledJobWorkflow.status)  # its first task is done: the timer runs
    # No worker: the deadline passes and the cancel arrives, and both wait for the same task.
    # (Once the timer has fired, its task locks time skipping: the last 2 s pass in real time.)
    await time_env.sleep(spec.deadline - await time_env.get_current_time() + timedelta(seconds=2))
    await handle.signal(ScheduledJobWorkflow.operator_cancel, OperatorCancel(by="dave"))
    async with build_worker(time_env.client, "jobs", doubles.activities()):
        result = await handle.result()

    assert result.outcome == "cancelled" and result.operator == "dave"
    assert doubles.actions == []
    # The history shows the timer's firing and the signal handed to one workflow task.
    events = (await handle.fetch_history()).events
    kinds = [event.event_type for event in events]
    fired = kinds.index(EventType.EVENT_TYPE_TIMER_FIRED)
    signalled = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    started = kinds.index(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, max(fired, signalled))
    between = kinds[min(fired, signalled) : started]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in between
