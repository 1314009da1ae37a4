"""Every job closes with its outcome in the `Outcome` search attribute, found by a visibility
query on the real dev server (the time-skipping server has no visibility store), and the health
check's failed-jobs probe counts a job whose action failed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.discord_rest import rest_client
from activities.health import HealthActivities
from clients.jobs import Jobs
from clients.whispers import Whispers
from tests.support import challenges_doubles as chains
from tests.support import seasons_doubles as seasons_support
from tests.support.jobs_doubles import CHANNEL, HOST, Doubles, job
from tests.support.temporal import eventually
from tests.support.whispers import whisper_seal
from tests.whispers import test_workflow as whisper_tests
from worker import build_worker
from workflows import search_attributes as sa
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import CancelChainRequest
from workflows.health_models import ProbeInput
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import job_id_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


class WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


@pytest_asyncio.fixture(loop_scope="module")
async def queue(client: Client) -> AsyncIterator[tuple[str, Doubles]]:
    name = f"outcomes-{uuid.uuid4().hex[:8]}"
    doubles = Doubles(WallClock())

    def refuse_the_second(attempt: int) -> None:
        if attempt == 2:
            raise ApplicationError("Missing Permissions (403)", non_retryable=True)

    doubles.action_behaviour = refuse_the_second
    async with build_worker(client, name, doubles.activities()):
        yield name, doubles


async def test_each_outcome_is_found_by_a_visibility_query(
    client: Client, queue: tuple[str, Doubles]
) -> None:
    name, _ = queue
    guild = 7000 + uuid.uuid4().int % 1000
    since = datetime.now(UTC) - timedelta(seconds=5)

    jobs = Jobs(client, name)

    async def run(delay: timedelta) -> str:
        return await jobs.schedule(
            "post_message",
            {"content": "x"},
            guild_id=guild,
            channel_id=CHANNEL,
            scheduled_by=HOST,
            delay=delay,
        )

    done = await run(timedelta(seconds=1))
    await client.get_workflow_handle(done).result()
    failed = await run(timedelta(seconds=1))
    assert (await client.get_workflow_handle(failed).result())["outcome"] == "failed"
    cancelled = await run(timedelta(hours=1))
    await jobs.cancel(cancelled, by=HOST, guild_id=guild, as_host=True)
    await client.get_workflow_handle(cancelled).result()

    async def found(outcome: str) -> list[str]:
        query = f"{sa.GUILD_ID.name} = '{guild}' AND {sa.OUTCOME.name} = '{outcome}'"
        return [execution.id async for execution in client.list_workflows(query)]

    async def all_found() -> bool:
        return (await found("done"), await found("failed"), await found("cancelled")) == (
            [done],
            [failed],
            [cancelled],
        )

    await eventually(all_found)
    assert await found("missed") == []

    # The failed job completed, and the health probe counts it all the same.
    async with rest_client(None) as discord_client:
        health = HealthActivities(discord_client, client)
        probe = ProbeInput(guild_id=guild, task_queue=name, since=since)
        counted = await health.probe_failed_jobs(probe)
    assert counted.state == "degraded"
    assert counted.detail == "1 job(s) failed since the last check"


async def test_missed_and_every_chain_season_and_whisper_outcome_is_found_by_a_visibility_query(
    client: Client, queue: tuple[str, Doubles]
) -> None:
    name, _ = queue
    guild = 8000 + uuid.uuid4().int % 1000
    env = WorkflowEnvironment.from_client(client)

    # A job whose first task ran two hours after its moment (a worker outage): missed.
    spec = job(datetime.now(UTC), -timedelta(hours=2), reminders=[]).model_copy(update={"guild_id": guild})
    missed = await client.start_workflow(
        ScheduledJobWorkflow.run,
        spec,
        id=job_id_for(guild, uuid.uuid4().hex[:8]),
        task_queue=name,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.GUILD_ID, str(guild))]),
    )
    assert (await missed.result()).outcome == "missed"

    # A chain cancelled during its first wait.
    async with build_worker(
        client, chains.QUEUE, chains.Posts(env).activities(), workflows=[ChallengeChainWorkflow]
    ):
        chain = await chains.start(
            env, chains.chain([chains.round_("Round 1", timedelta(hours=1))], key=f"q{guild}")
        )
        await chain.execute_update(
            ChallengeChainWorkflow.cancel, CancelChainRequest(by=chains.HOST, guild_id=chains.GUILD)
        )
        assert (await chain.result()).outcome == "cancelled"

    # A season ended by its host before it started.
    season_doubles = seasons_support.Doubles(env)
    async with seasons_support.season_worker(client, season_doubles):
        facade = seasons_support.seasons(client)
        season = await seasons_support.open_season(facade)
        await facade.end(seasons_support.GUILD, by=seasons_support.HOST)
        await season.result()

    # A whisper unsent by its sender.
    whisper_doubles = whisper_tests.Doubles(env)
    async with build_worker(client, whisper_tests.QUEUE, whisper_doubles.activities()):
        whispers = Whispers(client, whisper_tests.QUEUE, whisper_seal())
        whisper_id = await whisper_tests.send(whispers)
        await whispers.cancel(whisper_id, by=whisper_tests.ALICE)
        await client.get_workflow_handle(whisper_id).result()

    async def found(workflow_id: str, outcome: str) -> bool:
        query = f"WorkflowId = '{workflow_id}' AND {sa.OUTCOME.name} = '{outcome}'"
        return [e.id async for e in client.list_workflows(query)] == [workflow_id]

    for workflow_id in (missed.id, chain.id, season.id, whisper_id):
        outcome = "missed" if workflow_id == missed.id else "cancelled"
        await eventually(lambda: found(workflow_id, outcome))  # noqa: B023 (awaited in the loop)
    by_guild = f"{sa.GUILD_ID.name} = '{guild}' AND {sa.OUTCOME.name} = 'missed'"
    assert [e.id async for e in client.list_workflows(by_guild)] == [missed.id]
