"""Worker Versioning on the real dev server: `python worker.py` processes of two builds, the
deployment's current version moved with the Temporal CLI as README.md's rollout does it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion

from clients.jobs import Jobs
from local_discord import FakeDiscord
from stack.build_id import code_build_id
from stack.devserver import DevServer, temporal_cli_path
from stack.settings import Settings
from stack.versioning import current_build, deployment_version, describe
from tests.support.stack import CHANNEL, GUILD
from tests.support.temporal import eventually
from tests.support.worker_process import WorkerProcess
from workflows.jobs_models import JobResult

ON_THE_MODULES_LOOP = pytest.mark.asyncio(loop_scope="module")

HOST = 7301


def worker(
    server: DevServer, fake: FakeDiscord, queue: str, log_dir: Path, build: str, rollout: str
) -> WorkerProcess:
    process = WorkerProcess(
        temporal_address=server.address,
        task_queue=queue,
        discord_api_base=fake.base_url,
        log_dir=log_dir / build,
    )
    (log_dir / build).mkdir(exist_ok=True)
    process.env.update(WORKER_BUILD_ID=build, WORKER_ROLLOUT=rollout)
    return process


async def set_current(server: DevServer, deployment: str, build: str) -> str:
    """README.md's rollout command, as an operator types it (plus this server's address)."""
    cli = await asyncio.create_subprocess_exec(
        str(temporal_cli_path()),
        *(
            "worker",
            "deployment",
            "set-current-version",
            "--deployment-name",
            deployment,
            "--build-id",
            build,
        ),
        *("--yes", "--address", server.address),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await cli.communicate()
    assert cli.returncode == 0, out.decode()
    return out.decode()


async def current(client: Client, deployment: str) -> str | None:
    found = await describe(client, deployment)
    assert found is not None
    return current_build(found.worker_deployment_info)


async def builds_that_ran(client: Client, workflow_id: str) -> list[str]:
    """The build of every workflow task the job's history records as completed, in order."""
    builds = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            builds.append(event.workflow_task_completed_event_attributes.deployment_version.build_id)
    return builds


@ON_THE_MODULES_LOOP
async def test_a_job_started_on_build_a_finishes_on_build_b_and_a_rollback_returns_to_a(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    queue = f"versions-{uuid.uuid4().hex[:8]}"  # also the deployment's name (its default)
    jobs = Jobs(client, queue)
    async with FakeDiscord() as fake:
        fake.add_channel(CHANNEL, GUILD)
        a = worker(server, fake, queue, tmp_path, "build-a", "new")
        b = worker(server, fake, queue, tmp_path, "build-b", "manual")
        try:
            a.start()
            await a.wait_started()
            assert await current(client, queue) == "build-a"  # a new build makes itself current

            job = await jobs.schedule(
                "post_message",
                {"content": "rolled out"},
                guild_id=GUILD,
                channel_id=CHANNEL,
                scheduled_by=HOST,
                delay=timedelta(hours=1),
                description="Versioning test",
            )

            async def started_on_a() -> bool:
                return await builds_that_ran(client, job) == ["build-a"]

            await eventually(started_on_a)

            # Rollout: build B's workers join and wait (manual); the operator moves the deployment.
            b.start()
            await b.wait_started()
            assert "not current" in b.log()
            assert await current(client, queue) == "build-a"
            await set_current(server, queue, "build-b")
            assert await current(client, queue) == "build-b"
            a.stop()  # the rollout is over: build A's workers leave

            # The waiting job moves to B at its next task: brought forward, it fires there.
            await jobs.reschedule(job, by=HOST, guild_id=GUILD, delay=timedelta(seconds=1))
            result = await asyncio.wait_for(
                client.get_workflow_handle(job, result_type=JobResult).result(), 60
            )
            assert result.outcome == "done"
            ran = await builds_that_ran(client, job)
            assert ran[0] == "build-a" and ran[-1] == "build-b", ran
            assert [m.content for m in fake.messages(CHANNEL)] == ["rolled out"]

            # Rollback: build A's workers come back; having been current, A takes nothing back by
            # itself, until the operator makes it current again.
            a.start()
            await a.wait_started()
            assert await current(client, queue) == "build-b"
            await set_current(server, queue, "build-a")
            b.stop()
            second = await jobs.schedule(
                "post_message",
                {"content": "rolled back"},
                guild_id=GUILD,
                channel_id=CHANNEL,
                scheduled_by=HOST,
                delay=timedelta(seconds=1),
                description="Versioning test",
            )
            result = await asyncio.wait_for(
                client.get_workflow_handle(second, result_type=JobResult).result(), 60
            )
            assert result.outcome == "done"
            assert set(await builds_that_ran(client, second)) == {"build-a"}
            assert [m.content for m in fake.messages(CHANNEL)] == ["rolled out", "rolled back"]

            # `make run`'s way (WORKER_ROLLOUT=always): the build started is made current again.
            b.env["WORKER_ROLLOUT"] = "always"
            b.start()
            await b.wait_started()
            assert await current(client, queue) == "build-b"
        finally:
            b.stop()
            a.stop()
        fake.assert_no_violations()


def test_a_worker_joins_the_deployment_named_after_its_task_queue_as_its_code_s_build() -> None:
    settings = Settings(_env_file=None, temporal_task_queue="games")
    assert deployment_version(settings) == WorkerDeploymentVersion("games", code_build_id())
    assert settings.worker_rollout == "new"
    named = Settings(_env_file=None, worker_deployment_name="bots", worker_build_id="v2")
    assert deployment_version(named) == WorkerDeploymentVersion("bots", "v2")
    with pytest.raises(ValidationError):  # the server's canonical form is <deployment>.<build>
        Settings(_env_file=None, worker_deployment_name="bots.eu")
