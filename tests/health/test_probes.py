"""The task-queue and failed-jobs probes against the real dev server (the time-skipping server
has no visibility store and no poller view)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client

from activities.discord_rest import rest_client
from activities.health import HealthActivities
from clients.jobs import Jobs
from tests.support.health_doubles import Probes
from tests.support.temporal import eventually
from worker import build_worker
from workflows.health import HealthCheckWorkflow
from workflows.health_models import ProbeInput, ProbeResult

pytestmark = pytest.mark.asyncio(loop_scope="module")


class WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


def probe(queue: str, guild_id: int | None = None, since: datetime | None = None) -> ProbeInput:
    return ProbeInput(
        guild_id=guild_id, task_queue=queue, since=since or datetime.now(UTC) - timedelta(minutes=1)
    )


async def test_the_task_queue_probe_fails_without_pollers_and_passes_with_them(client: Client) -> None:
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    async with rest_client(None) as discord_client:
        health = HealthActivities(discord_client, client)
        idle = await health.probe_task_queue(probe(queue))
        assert idle.state == "failing"
        assert idle.detail == f"0 workflow and 0 activity pollers on {queue}"

        doubles = Probes(WallClock()).activities()  # any activities: the worker's pollers matter
        async with build_worker(client, queue, doubles, workflows=[HealthCheckWorkflow]):
            seen: list[ProbeResult] = []

            async def polled() -> bool:
                seen.append(await health.probe_task_queue(probe(queue)))
                return seen[-1].state == "healthy"

            await eventually(polled)
        assert seen[-1].detail.endswith(f"activity pollers on {queue}")


async def test_the_failed_jobs_probe_counts_terminated_jobs_of_its_guild(client: Client) -> None:
    guild, other = 9101, 9102
    since = datetime.now(UTC) - timedelta(seconds=5)
    jobs = Jobs(client, f"nobody-{uuid.uuid4().hex[:8]}")  # no worker: the job only waits
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=guild,
        channel_id=1,
        scheduled_by=2,
        delay=timedelta(hours=1),
    )
    async with rest_client(None) as discord_client:
        health = HealthActivities(discord_client, client)
        assert (await health.probe_failed_jobs(probe("q", guild, since))).state == "healthy"
        await client.get_workflow_handle(job_id).terminate(reason="operator test")

        async def counted() -> bool:
            return (await health.probe_failed_jobs(probe("q", guild, since))).state == "degraded"

        await eventually(counted)
        found = await health.probe_failed_jobs(probe("q", guild, since))
        assert found.detail.startswith("1 job(s) failed")
        assert (await health.probe_failed_jobs(probe("q", other, since))).state == "healthy"
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert (await health.probe_failed_jobs(probe("q", guild, later))).state == "healthy"


def clock_of(client: Client) -> _WallClock:
    return _WallClock()


class _WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)
