"""The worker: hosts every workflow and activity, with one logged-in discord.py REST client.

Run as `python worker.py`. Several replicas may run on the same task queue.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from types import ModuleType
from typing import Any

import discord
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.custom_actions import CustomActionActivities, WebhookDiscord
from activities.discord_rest import rest_client
from activities.guild_checks import GuildChecks
from activities.health import HealthActivities
from activities.jobs import JobsActivities
from activities.outage import OutageActivities
from activities.safari import SafariActivities
from activities.seasons import SeasonActivities
from activities.whispers import WhisperActivities
from clients.guild_settings import HostRole, StoreSettings, migrate_legacy_settings
from stack.build_id import code_build_id
from stack.process import exit_now
from stack.settings import Settings, load_settings
from stack.telemetry import JobOutcomes, metrics_runtime, setup_logging
from stack.temporal import connect, connection
from stack.versioning import deployment_config, deployment_version, join
from workflows import custom_actions_models, safari_engine
from workflows.challenges import ChallengeChainWorkflow
from workflows.health import HealthCheckWorkflow
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import ACTIONS
from workflows.outage import OutageSummaryWorkflow
from workflows.seasons import SeasonWorkflow
from workflows.seasons_turns import TurnWorkflow
from workflows.store import StoreWorkflow
from workflows.whispers import WhisperWorkflow

# The features that add actions to the jobs' catalogue (workflows/jobs_actions.py) when their
# module is imported. Imported here, before any worker or replayer is built, so every worker
# and every replay sees the same catalogue from its first workflow task on.
ACTION_FEATURES: Sequence[ModuleType] = (safari_engine, custom_actions_models)

WORKFLOWS: Sequence[type] = (
    ScheduledJobWorkflow,
    WhisperWorkflow,
    StoreWorkflow,
    SeasonWorkflow,
    TurnWorkflow,
    ChallengeChainWorkflow,
    HealthCheckWorkflow,
    OutageSummaryWorkflow,
)

log = logging.getLogger("worker")

# On SIGTERM, running activities get this long to finish before they are cancelled (and retried
# elsewhere). Below docker-compose.yml's stop_grace_period and stack/launcher.py's wait.
SHUTDOWN_GRACE = timedelta(seconds=10)


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
    # Custom Actions read their definitions and the Safari balances from the stores as well.
    custom_actions = (
        [CustomActionActivities(temporal, task_queue, WebhookDiscord(discord_client)).execute_custom_action]
        if temporal
        else []
    )
    # The health probes ask the Temporal server about task queues and failed jobs.
    health = HealthActivities(discord_client, temporal).all() if temporal else []
    # Outage summaries start their workflow and read the server's log channel setting.
    outage = (
        OutageActivities(discord_client, temporal, StoreSettings(temporal, task_queue)).all()
        if temporal
        else []
    )
    # Host rights and a channel's guild, from Discord and the guild's host role setting.
    host_role = HostRole(StoreSettings(temporal, task_queue)) if temporal else None
    guild_checks = GuildChecks(discord_client, host_role)
    return [
        jobs.send_reminder,
        jobs.find_reminder_post,
        jobs.post_message,
        jobs.notify_job_failed,
        jobs.notify_job_cancelled,
        jobs.edit_announcement,
        *whispers.all(),
        *SeasonActivities(discord_client).all(),
        *safari,
        *custom_actions,
        *health,
        *outage,
        guild_checks.check_guild,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    activities: Sequence[Any],
    *,
    workflows: Sequence[type] = WORKFLOWS,
    identity: str | None = None,
    sandboxed: bool = True,
    shutdown_grace: timedelta = SHUTDOWN_GRACE,
    deployment: WorkerDeploymentVersion | None = None,
) -> Worker:
    """A worker for these workflows and activities.

    The SDK's sandbox catches non-deterministic calls in workflow code; tests and replays keep it.
    The production worker (`main`) runs without it: at 1,000 jobs on 2 cores bench/ measured
    20.3 CPU-ms per fire and p99 lateness 1.35 s with the sandbox, 14.9 ms and 0.31 s without.

    With `deployment` the worker joins that worker deployment as that version (stack/versioning.py);
    without, it is unversioned (the tests' time-skipping server has no deployments).
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
        # A cached job costs ~89 KiB (bench.waiting, 20,000 jobs: 1.8 GiB); 8,000 keeps a worker
        # near 0.8 GiB and holds a 5,000-job burst. An evicted job is replayed from its short
        # history on its next timer (a few ms), so waiting jobs beyond it cost memory nowhere.
        max_cached_workflows=8_000,
        # After a crash, tasks stuck on the dead worker's sticky queue move on after this, not 10 s.
        # 1 s, not 2: with two workers, one killed, the outage's fires went from p99 3.4 s to 1.3 s,
        # and a steady 67 fires/s on one worker saw no sticky timeout (bench/README.md, Replicas).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        graceful_shutdown_timeout=shutdown_grace,
        identity=identity,
        # Not the SDK's default, which hashes every loaded module's bytecode (compiling what has none).
        build_id=None if deployment else code_build_id(),
        deployment_config=deployment_config(deployment) if deployment else None,
        # Counts failed jobs and times fires on the SDK's meter (served when a port is set).
        interceptors=[JobOutcomes(local_actions={name for name, spec in ACTIONS.items() if spec.local})],
    )


async def migrate_settings(client: Client, task_queue: str) -> None:
    """Wave 1's global settings stores into each guild's own (needs this worker to be polling)."""
    try:
        copied = await migrate_legacy_settings(client, task_queue)
    except Exception:
        log.exception("could not copy the wave-1 guild settings; the next start tries again")
        return
    if copied:
        log.info("copied %d wave-1 guild settings into the guilds' own stores", copied)


async def main(settings: Settings) -> None:
    token = settings.discord_token.get_secret_value() if settings.discord_token else None
    # Discord first: its login runs in the background while we connect, and a Discord outage
    # never keeps the worker from polling (posts retry until the login succeeds).
    async with rest_client(token, settings.discord_api_base, in_background=True) as discord_client:
        runtime = metrics_runtime(settings.metrics_host, settings.worker_metrics_port)
        client = await connect(settings, runtime=runtime)
        version = deployment_version(settings)
        worker = build_worker(
            client,
            settings.temporal_task_queue,
            activities_for(discord_client, client, settings.temporal_task_queue),
            sandboxed=False,  # the suite and the replay tests run every workflow sandboxed
            deployment=version,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            standing = await join(client, version, settings.worker_rollout)
            log.info(
                "worker polling task queue %s at %s as build %s of deployment %s: %s",
                settings.temporal_task_queue,
                connection(settings).address,
                version.build_id,
                version.deployment_name,
                standing,
            )
            migration = asyncio.create_task(migrate_settings(client, settings.temporal_task_queue))
            await stop.wait()
            migration.cancel()
            # Leaving the block stops polling, lets running activities finish (up to the grace
            # period) and hands their results to Temporal; then the Discord session closes.
            log.info(
                "worker stopping: finishing running activities (up to %.0f s)", SHUTDOWN_GRACE.total_seconds()
            )
        log.info("worker stopped")


if __name__ == "__main__":
    settings = load_settings()
    setup_logging(settings.log_format)
    # A REST-only client has no voice and no gateway state: those warnings are noise here.
    for noisy in ("discord.client", "discord.state"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(main(settings))
    exit_now(0)
