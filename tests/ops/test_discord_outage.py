"""`python worker.py` and Discord outages: the worker polls at once and logs in in the background.

Real processes: the dev server, the fake Discord with every request answered 503, and the worker.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.discord_rest import require_login, rest_client
from clients.jobs import Jobs
from clients.store import PersistentStore
from local_discord import FakeDiscord
from stack.devserver import DevServer
from tests.support.stack import CHANNEL, GUILD
from tests.support.temporal import eventually
from tests.support.worker_process import WorkerProcess
from workflows.jobs_models import JobResult

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = 7003
EVERY_REQUEST = 1_000_000


def worker_for(server: DevServer, fake: FakeDiscord, log_dir: Path) -> WorkerProcess:
    return WorkerProcess(
        temporal_address=server.address,
        task_queue=f"ops-{uuid.uuid4().hex[:8]}",
        discord_api_base=fake.base_url,
        log_dir=log_dir,
    )


async def post_kept_retrying(handle: WorkflowHandle[object, object]) -> None:
    """Wait until the job's post has failed its short local try and is being retried by Temporal
    as a regular activity (the final action keeps trying for days), the job still running."""

    async def retrying() -> bool:
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING, "the job ended"
        pending = described.raw_description.pending_activities
        return bool(pending) and pending[0].attempt >= 2

    await eventually(retrying, timeout=120)


async def schedule_post(client: Client, queue: str, content: str) -> str:
    return await Jobs(client, queue).schedule(
        "post_message",
        {"content": content},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(seconds=1),
        description="Outage test",
    )


async def test_a_worker_started_during_an_outage_serves_the_store_and_posts_once_discord_is_back(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        fake.add_channel(CHANNEL, GUILD)
        fake.inject("*", ".*", 503, times=EVERY_REQUEST)
        worker = worker_for(server, fake, tmp_path)
        async with worker:
            queue = worker.task_queue

            store = await PersistentStore.create(client, f"outage-{uuid.uuid4().hex[:8]}", queue)
            await asyncio.wait_for(store.set("round", 3), 30)
            assert await store.get("round") == 3

            job_id = await schedule_post(client, queue, "posted after the outage")
            handle = client.get_workflow_handle(job_id, result_type=JobResult)
            await post_kept_retrying(handle)
            assert fake.messages() == []
            assert fake.requests("GET", r"^/users/@me$"), "the worker never tried to log in"

            fake.clear_faults()
            result = await asyncio.wait_for(handle.result(), 90)
        assert result.outcome == "done"
        assert [m.content for m in fake.messages()] == ["posted after the outage"]
        assert worker.proc is not None and worker.proc.returncode == 0, worker.log()
        assert "logged in to Discord" in worker.log()
        assert "Traceback" not in worker.log(), worker.log()
        fake.assert_no_violations()


async def test_a_worker_without_a_token_warns_once_and_retries_quietly(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        fake.add_channel(CHANNEL, GUILD)
        worker = worker_for(server, fake, tmp_path)
        del worker.env["DISCORD_TOKEN"]
        async with worker:
            job_id = await schedule_post(client, worker.task_queue, "never without a token")
            handle = client.get_workflow_handle(job_id, result_type=JobResult)
            await post_kept_retrying(handle)
            await handle.terminate("test over")
        log = worker.log()
        assert [line for line in log.splitlines() if "DISCORD_TOKEN" in line] == [
            next(line for line in log.splitlines() if "DISCORD_TOKEN is not set" in line)
        ], log
        assert "Traceback" not in log, log
        assert fake.requests() == []


async def test_a_refused_token_is_said_once_and_the_worker_keeps_serving(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        worker = worker_for(server, fake, tmp_path)
        worker.env["DISCORD_TOKEN"] = "not a token"  # Discord answers 401 to "Bot not a token"
        async with worker:
            await eventually(lambda: "Discord refused DISCORD_TOKEN" in worker.log())
            queue = worker.task_queue
            store = await PersistentStore.create(client, f"refused-{uuid.uuid4().hex[:8]}", queue)
            await asyncio.wait_for(store.set("still", "served"), 30)
        assert len(fake.requests("GET", r"^/users/@me$")) == 1  # no retrying a refused token
        assert worker.log().count("Discord refused DISCORD_TOKEN") == 1
        assert "Traceback" not in worker.log(), worker.log()


async def test_a_post_before_login_fails_retryably_and_quietly() -> None:
    async with FakeDiscord() as fake:
        fake.inject("*", ".*", 503, times=EVERY_REQUEST)
        async with rest_client("fake-bot-token", fake.base_url, in_background=True) as discord_client:
            with pytest.raises(ApplicationError) as refused:
                require_login(discord_client)
    assert refused.value.type == "DiscordNotLoggedIn" and not refused.value.non_retryable
    assert refused.value.category == ApplicationErrorCategory.BENIGN  # the SDK logs it at debug level
