"""The health check's probes and its report, as activities given the worker's clients.

Each probe answers a `ProbeResult` rather than raising: what it saw (Discord refused, no poller)
is the answer, not an error to retry. The failed-jobs probe counts through visibility: a
ScheduledJob whose action failed for good completes with the `Outcome` search attribute
'failed', and a job workflow that failed, timed out or was terminated (a bug, a worker that
could not replay it, an operator's terminate) has that status.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import discord
from discord.utils import format_dt
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from activities.discord_rest import activity_nonce, discord_errors, require_login
from workflows import search_attributes as sa
from workflows.health_models import (
    POST_HEALTH_REPORT,
    PROBE_DISCORD,
    PROBE_FAILED_JOBS,
    PROBE_TASK_QUEUE,
    HealthReport,
    ProbeInput,
    ProbeResult,
    probe_label,
)
from workflows.jobs_models import JOBS_WORKFLOW

# Discord answering slower than this is degraded, not failing; not at all within DISCORD_WAIT
# (discord.py retries 5xx and 429 by itself, for up to a minute), failing.
SLOW_DISCORD_MS = 2000.0
DISCORD_WAIT = 5.0
# A poller the server saw longer ago than this is gone (the server keeps them a few minutes).
POLLER_FRESH = timedelta(minutes=2)
ICONS = {"healthy": "🟢", "degraded": "🟡", "failing": "🔴"}


def failed_jobs_query(probe: ProbeInput) -> str:
    since = probe.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A job whose action failed completes, with Outcome 'failed' (a run from before that
    # attribute is not seen); a job workflow that broke ends Failed, TimedOut or Terminated.
    clauses = [
        f"WorkflowType = '{JOBS_WORKFLOW}'",
        f"(ExecutionStatus IN ('Failed', 'TimedOut', 'Terminated') OR {sa.OUTCOME.name} = 'failed')",
        f"CloseTime >= '{since}'",
    ]
    if probe.guild_id is not None:
        clauses.append(f"GuildId = '{probe.guild_id}'")
    return " AND ".join(clauses)


def report_text(report: HealthReport) -> str:
    head = f"{ICONS[report.state]} **Health: {report.state}**"
    if report.kind == "heartbeat":
        head += " (daily heartbeat)"
    elif report.previous is not None and report.previous != report.state:
        head += f" (was {report.previous})"
    lines = [head, format_dt(report.at, "f")]
    if report.mention_role_id is not None:
        lines[0] = f"<@&{report.mention_role_id}> {head}"
    if report.unposted is not None and report.unposted_since is not None:
        since = format_dt(report.unposted_since, "f")
        lines.append(f"⚠️ It was **{report.unposted}** from {since}, but that could not be posted then.")
    lines += [f"{ICONS[r.state]} {probe_label(r.name)}: {r.detail}" for r in report.results]
    return "\n".join(lines)[:2000]


def report_mentions(report: HealthReport) -> discord.AllowedMentions:
    """Only the alert role, and only when the report names it."""
    if report.mention_role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(report.mention_role_id)], replied_user=False
    )


class HealthActivities:
    def __init__(self, discord_client: discord.Client, temporal: Client) -> None:
        self._discord = discord_client
        self._temporal = temporal

    @activity.defn(name=PROBE_DISCORD)
    async def probe_discord(self, probe: ProbeInput) -> ProbeResult:
        """Discord answers the bot's token: GET /users/@me, timed."""
        if self._discord.http.token is None:
            return ProbeResult(name=PROBE_DISCORD, state="failing", detail="this worker has no DISCORD_TOKEN")
        started = time.monotonic()
        try:
            await asyncio.wait_for(
                self._discord.http.request(discord.http.Route("GET", "/users/@me")), DISCORD_WAIT
            )
        except discord.HTTPException as err:
            what = "refused the token" if err.status == 401 else "answered"
            detail = f"Discord {what} ({err.status}): {err.text or 'no body'}"[:300]
            return ProbeResult(name=PROBE_DISCORD, state="failing", detail=detail)
        except TimeoutError:
            detail = f"Discord did not answer within {DISCORD_WAIT:.0f} s"
            return ProbeResult(name=PROBE_DISCORD, state="failing", detail=detail)
        except (aiohttp.ClientError, OSError) as err:
            return ProbeResult(
                name=PROBE_DISCORD, state="failing", detail=f"cannot reach Discord: {err!r}"[:300]
            )
        latency = (time.monotonic() - started) * 1000
        state = "degraded" if latency > SLOW_DISCORD_MS else "healthy"
        return ProbeResult(
            name=PROBE_DISCORD, state=state, detail=f"answered in {latency:.0f} ms", latency_ms=latency
        )

    @activity.defn(name=PROBE_TASK_QUEUE)
    async def probe_task_queue(self, probe: ProbeInput) -> ProbeResult:
        """Workers poll the task queue, for workflow tasks and for activity tasks."""
        counts = {}
        now = datetime.now(UTC)
        for kind, label in (
            (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "workflow"),
            (TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, "activity"),
        ):
            answer = await self._temporal.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self._temporal.namespace,
                    task_queue=TaskQueue(name=probe.task_queue),
                    task_queue_type=kind,
                )
            )
            counts[label] = sum(
                1
                for poller in answer.pollers
                if not poller.HasField("last_access_time")
                or now - poller.last_access_time.ToDatetime(UTC) <= POLLER_FRESH
            )
        detail = (
            f"{counts['workflow']} workflow and {counts['activity']} activity pollers on {probe.task_queue}"
        )
        state = "healthy" if all(counts.values()) else "failing"
        return ProbeResult(name=PROBE_TASK_QUEUE, state=state, detail=detail)

    @activity.defn(name=PROBE_FAILED_JOBS)
    async def probe_failed_jobs(self, probe: ProbeInput) -> ProbeResult:
        """Scheduled job workflows that failed, timed out or were terminated since the last check."""
        counted = await self._temporal.count_workflows(failed_jobs_query(probe))
        if counted.count == 0:
            return ProbeResult(name=PROBE_FAILED_JOBS, state="healthy", detail="no job failed")
        return ProbeResult(
            name=PROBE_FAILED_JOBS,
            state="degraded",
            detail=f"{counted.count} job(s) failed since the last check",
        )

    @activity.defn(name=POST_HEALTH_REPORT)
    async def post_health_report(self, report: HealthReport) -> dict[str, str]:
        require_login(self._discord)
        channel = self._discord.get_partial_messageable(report.channel_id)
        with discord_errors():
            message = await channel.send(
                report_text(report), nonce=activity_nonce(), allowed_mentions=report_mentions(report)
            )
        return {"message_id": str(message.id)}

    def all(self) -> list[object]:
        return [self.probe_discord, self.probe_task_queue, self.probe_failed_jobs, self.post_health_report]
