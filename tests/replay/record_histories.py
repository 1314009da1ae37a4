"""Record workflow histories for the replay tests: `python -m tests.replay.record_histories`.

Run it when a workflow gains a new path worth guarding. Histories already recorded are never
rewritten: they stand for executions that may still be running in production, and every later
change to a workflow must replay them (use `workflow.patched` for changes that would not).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from stack.temporal import data_converter
from tests.conftest import TEST_KEY, binary, register_search_attributes
from tests.test_scheduled_job import GUILD, HOST, Doubles, job, start
from worker import build_worker
from workflows.job_models import CancelRequest, JobResult, RescheduleRequest
from workflows.scheduled_job import ScheduledJobWorkflow

HISTORIES = Path(__file__).parent / "histories"

Scenario = Callable[
    [WorkflowEnvironment, Doubles], Awaitable[WorkflowHandle[ScheduledJobWorkflow, JobResult]]
]


async def reminders_then_action(
    env: WorkflowEnvironment, doubles: Doubles
) -> WorkflowHandle[ScheduledJobWorkflow, JobResult]:
    handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
    await handle.result()
    return handle


async def cancelled(
    env: WorkflowEnvironment, doubles: Doubles
) -> WorkflowHandle[ScheduledJobWorkflow, JobResult]:
    handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
    await env.sleep(timedelta(minutes=40))
    await handle.execute_update(ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=GUILD))
    await handle.result()
    return handle


async def rescheduled(
    env: WorkflowEnvironment, doubles: Doubles
) -> WorkflowHandle[ScheduledJobWorkflow, JobResult]:
    now = await env.get_current_time()
    handle = await start(env, job(now, timedelta(hours=1)))
    await env.sleep(timedelta(minutes=40))
    request = RescheduleRequest(deadline=now + timedelta(hours=3), by=HOST, guild_id=GUILD)
    await handle.execute_update(ScheduledJobWorkflow.reschedule, request)
    await handle.result()
    return handle


async def failed(
    env: WorkflowEnvironment, doubles: Doubles
) -> WorkflowHandle[ScheduledJobWorkflow, JobResult]:
    def gone(attempt: int) -> None:
        raise ApplicationError("Unknown Channel", type="DiscordRejected", non_retryable=True)

    doubles.action_behaviour = gone
    handle = await start(env, job(await env.get_current_time(), timedelta(minutes=10), reminders=[]))
    await handle.result()
    return handle


SCENARIOS: dict[str, Scenario] = {
    "scheduled_job-reminders_then_action": reminders_then_action,
    "scheduled_job-cancelled": cancelled,
    "scheduled_job-rescheduled": rescheduled,
    "scheduled_job-failed": failed,
}


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in SCENARIOS.items():
        target = HISTORIES / f"{name}.json"
        if target.exists():
            print(f"kept     {target.name}")
            continue
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter([TEST_KEY]),
            test_server_existing_path=binary("temporal-test-server"),
        )
        try:
            await register_search_attributes(env)
            doubles = Doubles(env)
            async with build_worker(env.client, "jobs", doubles.activities()):
                handle = await scenario(env, doubles)
            history = await handle.fetch_history()
            target.write_text(history.to_json())
            print(f"recorded {target.name} ({len(history.events)} events)")
        finally:
            await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
