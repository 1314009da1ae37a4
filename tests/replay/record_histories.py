"""Record workflow histories for the replay tests: `python -m tests.replay.record_histories`.

Run it when a workflow gains a new path worth guarding. Histories already recorded are never
rewritten: they stand for executions that may still be running in production, and every later
change to a workflow must replay them (use `workflow.patched` for changes that would not).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.store import PersistentStore, VersionConflict
from clients.whispers import Whispers
from stack.temporal import data_converter
from tests.support.jobs_doubles import GUILD, HOST, Doubles, job, start
from tests.support.temporal import TEST_KEY, binary, register_search_attributes
from tests.whispers import test_workflow as whisper_tests
from worker import build_worker
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import CancelRequest, OperatorCancel, Reminder, RescheduleRequest
from workflows.store import StoreWorkflow

HISTORIES = Path(__file__).parent / "histories"

# A scenario drives one workflow run to its end and returns its id (`id@run` for a given run).
Scenario = Callable[[WorkflowEnvironment], Awaitable[str]]


def _job_worker(env: WorkflowEnvironment, doubles: Doubles | None = None) -> Worker:
    return build_worker(env.client, "jobs", (doubles or Doubles(env)).activities())


async def reminders_then_action(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await handle.result()
    return handle.id


async def cancelled(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        await handle.execute_update(ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=GUILD))
        await handle.result()
    return handle.id


async def rescheduled(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        now = await env.get_current_time()
        handle = await start(env, job(now, timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        request = RescheduleRequest(deadline=now + timedelta(hours=3), by=HOST, guild_id=GUILD)
        await handle.execute_update(ScheduledJobWorkflow.reschedule, request)
        await handle.result()
    return handle.id


async def failed(env: WorkflowEnvironment) -> str:
    def gone(attempt: int) -> None:
        raise ApplicationError("Unknown Channel", type="DiscordRejected", non_retryable=True)

    doubles = Doubles(env)
    doubles.action_behaviour = gone
    async with _job_worker(env, doubles):
        handle = await start(env, job(await env.get_current_time(), timedelta(minutes=10), reminders=[]))
        await handle.result()
    return handle.id


# Recorded with the code of `workflows.jobs.JOBS_PATCH` (the four above predate it).


async def patched_reminders_then_action(env: WorkflowEnvironment) -> str:
    return await reminders_then_action(env)


async def operator_signal(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        await handle.signal(ScheduledJobWorkflow.operator_cancel, OperatorCancel(by="ops", reason="replay"))
        await handle.result()
    return handle.id


async def temporal_cancellation(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        await handle.cancel(reason="replay")
        await handle.result()
    return handle.id


async def outage_then_results(env: WorkflowEnvironment) -> str:
    """Discord down from before a reminder until a day after the deadline: the reminder's
    attempts end at the deadline, the action waits as a regular activity."""
    doubles = Doubles(env)
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=5), reminders=[Reminder(offset=timedelta(seconds=4), message="4 s")])
    doubles.discord_down = lambda at: (
        spec.deadline - timedelta(seconds=5) <= at < spec.deadline + timedelta(days=1)
    )
    async with _job_worker(env, doubles):
        handle = await start(env, spec)
        await handle.result()
    return handle.id


def _whisper_worker(env: WorkflowEnvironment) -> Worker:
    doubles = whisper_tests.Doubles(env)
    return build_worker(env.client, whisper_tests.QUEUE, doubles.activities())


async def whisper_read_then_window_closes(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE)
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(hours=1))
        await whispers.read(whisper_id, reader_id=whisper_tests.BOB)
        await env.sleep(timedelta(hours=23))
        await whispers.read(whisper_id, reader_id=whisper_tests.BOB)
        await env.sleep(timedelta(hours=2))
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_expired(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE)
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(days=31))
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_unsent(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE)
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(hours=1))
        await whispers.cancel(whisper_id, by=whisper_tests.ALICE)
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def store_writes_then_continues_as_new(env: WorkflowEnvironment) -> str:
    """Sets, a compare-and-set that wins and one refused, a delete, then continue-as-new after 6
    writes: the history of the first run, which ends in ContinueAsNew."""
    async with build_worker(env.client, "stores", [], workflows=[StoreWorkflow]):
        store = await PersistentStore.create(env.client, "replay-store", "stores", continue_after_updates=6)
        first_run = (await env.client.get_workflow_handle(store.workflow_id).describe()).run_id
        version = await store.set("players", {"alice": 100})
        await store.set("round", 1)
        await store.compare_and_set("players", version, {"alice": 200})
        with contextlib.suppress(VersionConflict):
            await store.compare_and_set("players", version, {"alice": 999})
        await store.delete("round")
        for n in range(4):
            await store.set(f"k{n}", n)
        assert await store.get("players") == {"alice": 200}
    return f"{store.workflow_id}@{first_run}"


SCENARIOS: dict[str, Scenario] = {
    "ScheduledJob-reminders_then_action": reminders_then_action,
    "ScheduledJob-cancelled": cancelled,
    "ScheduledJob-rescheduled": rescheduled,
    "ScheduledJob-failed": failed,
    "ScheduledJob-patched_reminders_then_action": patched_reminders_then_action,
    "ScheduledJob-operator_signal": operator_signal,
    "ScheduledJob-temporal_cancellation": temporal_cancellation,
    "ScheduledJob-outage_then_results": outage_then_results,
    "Whisper-read_then_window_closes": whisper_read_then_window_closes,
    "Whisper-expired": whisper_expired,
    "Whisper-unsent": whisper_unsent,
    "PersistentStore-writes_then_continues_as_new": store_writes_then_continues_as_new,
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
            workflow_id, _, run_id = (await scenario(env)).partition("@")
            handle = env.client.get_workflow_handle(workflow_id, run_id=run_id or None)
            history = await handle.fetch_history()
            target.write_text(history.to_json())
            print(f"recorded {target.name} ({len(history.events)} events)")
        finally:
            await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
