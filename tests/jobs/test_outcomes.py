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
from temporalio.exceptions import ApplicationError

from activities.discord_rest import rest_client
from activities.health import HealthActivities
from clients.jobs import Jobs
from tests.support.jobs_doubles import CHANNEL, HOST, Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows import search_attributes as sa
from workflows.health_models import ProbeInput

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
