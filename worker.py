"""The worker: hosts every workflow and activity, with one logged-in discord.py REST client.

Run as `python worker.py`. Several replicas may run on the same task queue.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import discord
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.discord_rest import rest_client
from activities.jobs import JobsActivities
from activities.safari import SafariActivities
from activities.whispers import WhisperActivities
from stack.process import exit_now
from stack.settings import Settings, load_settings
from stack.temporal import connect
from workflows.jobs import ScheduledJobWorkflow
from workflows.store import StoreWorkflow
from workflows.whispers import WhisperWorkflow

WORKFLOWS: Sequence[type] = (ScheduledJobWorkflow, WhisperWorkflow, StoreWorkflow)

log = logging.getLogger("worker")


def activities_for(
    discord_client: discord.Client, temporal: Client | None = None, task_queue: str = ""
) -> list[Any]:
    """Every activity the worker hosts, bound to the given Discord client."""
    jobs = JobsActivities(discord_client)
    whispers = WhisperActivities(discord_client)
    # Safari's round results talk to the store workflows, so they need the Temporal client too.
    safari = (
        [SafariActivities(discord_client, temporal, task_queue).process_round_results] if temporal else []
    )
    return [
        jobs.send_reminder,
        jobs.post_message,
        jobs.notify_job_failed,
        jobs.notify_job_cancelled,
        *whispers.all(),
        *safari,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    activities: Sequence[Any],
    *,
    workflows: Sequence[type] = WORKFLOWS,
    identity: str | None = None,
    sandboxed: bool = True,
) -> Worker:
    """A worker for these workflows and activities.

    The SDK's sandbox catches non-deterministic calls in workflow code; tests and replays keep it.
    The production worker (`main`) runs without it: at 1,000 jobs on 2 cores bench/ measured
    20.3 CPU-ms per fire and p99 lateness 1.35 s with the sandbox, 14.9 ms and 0.31 s without.
    """
    # Models are immutable data: sharing them with the sandbox avoids re-importing pydantic
    # for every workflow run, which is most of the CPU a cold workflow costs.
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "pydantic", "pydantic_core", "annotated_types", "typing_inspection"
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        workflow_runner=(
            SandboxedWorkflowRunner(restrictions=restrictions) if sandboxed else UnsandboxedWorkflowRunner()
        ),
        # Keep every waiting job in memory: an evicted one is replayed from history on its next timer.
        max_cached_workflows=20_000,
        # After a crash, tasks stuck on the dead worker's sticky queue move on after this, not 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
        graceful_shutdown_timeout=timedelta(seconds=5),
        identity=identity,
    )


async def main(settings: Settings) -> None:
    if settings.discord_token is None:
        log.warning("DISCORD_TOKEN is not set: jobs run, but their Discord posts wait and retry until it is")
    client = await connect(settings)
    token = settings.discord_token.get_secret_value() if settings.discord_token else None
    async with rest_client(token, settings.discord_api_base) as discord_client:
        worker = build_worker(
            client,
            settings.temporal_task_queue,
            activities_for(discord_client, client, settings.temporal_task_queue),
            sandboxed=False,  # the suite and the replay tests run every workflow sandboxed
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            log.info(
                "worker polling task queue %s at %s", settings.temporal_task_queue, settings.temporal_address
            )
            await stop.wait()
            log.info("worker stopping")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A REST-only client has no voice and no gateway state: those warnings are noise here.
    for noisy in ("discord.client", "discord.state"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(main(load_settings()))
    exit_now(0)
