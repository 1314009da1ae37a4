"""Inputs, messages and results of the health check workflow, and its probes' activity names.

One health check per guild that wants it (`health-<guild>`), or one for the deployment
(`health-deployment`). Every interval it runs its probes, each an activity that answers a
`ProbeResult` (a probe that cannot even run counts as failing), and posts to the admin channel
only when the overall state changes, plus a daily heartbeat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from workflows.common import Snowflake

HEALTH_WORKFLOW = "HealthCheck"
DEPLOYMENT_ID = "health-deployment"

PROBE_DISCORD = "health_probe_discord"
PROBE_TASK_QUEUE = "health_probe_task_queue"
PROBE_FAILED_JOBS = "health_probe_failed_jobs"
POST_HEALTH_REPORT = "post_health_report"
PROBES = (PROBE_DISCORD, PROBE_TASK_QUEUE, PROBE_FAILED_JOBS)
# What a post or a status calls each probe (the activity names are for operators only).
PROBE_LABELS: dict[str, str] = {
    PROBE_DISCORD: "Discord",
    PROBE_TASK_QUEUE: "Workers",
    PROBE_FAILED_JOBS: "Failed jobs",
}
# The signal that ends a check: `/health stop`, or an operator with the CLI (README: Operators).
STOP_SIGNAL = "stop"
# Runs the status shows, newest last.
RECENT_RUNS = 5


def probe_label(name: str) -> str:
    return PROBE_LABELS.get(name, name.removeprefix("health_probe_").replace("_", " ").capitalize())


MIN_INTERVAL = timedelta(minutes=1)
DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_HEARTBEAT = timedelta(days=1)
# Checks per run before continuing as new (sooner when the server suggests it).
DEFAULT_CHECKS_PER_RUN = 100
# Checks in a row that must agree before a change of state is posted (workflows/health.py).
CONFIRM_CHECKS = 2


def health_id_for(guild_id: int | None) -> str:
    return DEPLOYMENT_ID if guild_id is None else f"health-{guild_id}"


Health = Literal["healthy", "degraded", "failing"]
Posted = Literal["change", "heartbeat"]
_RANK: dict[Health, int] = {"healthy": 0, "degraded": 1, "failing": 2}


def worse(a: Health, b: Health | None) -> Health:
    return b if b is not None and _RANK[b] > _RANK[a] else a


def settled(announced: Health | None, recent: list[Health]) -> Health | None:
    """The state to announce after the last checks (`recent`, oldest first), by the rule in
    workflows/health.py: moved only when the last CONFIRM_CHECKS all moved the same way."""
    if announced is None:
        return recent[-1] if recent else None
    last = recent[-CONFIRM_CHECKS:]
    if len(last) < CONFIRM_CHECKS:
        return announced
    if all(_RANK[s] > _RANK[announced] for s in last):
        return min(last, key=_RANK.__getitem__)
    if all(_RANK[s] < _RANK[announced] for s in last):
        return max(last, key=_RANK.__getitem__)
    return announced


def overall(results: list[ProbeResult]) -> Health:
    """The worst state of any probe."""
    worst: Health = "healthy"
    for result in results:
        worst = worse(worst, result.state)
    return worst


class HealthSpec(BaseModel):
    guild_id: Snowflake | None = None
    admin_channel_id: Snowflake | None = None
    # The task queue whose pollers are probed (the one the bot and workers use).
    task_queue: str
    interval: timedelta = Field(default=DEFAULT_INTERVAL, ge=MIN_INTERVAL, le=timedelta(days=1))
    heartbeat_every: timedelta = Field(default=DEFAULT_HEARTBEAT, ge=timedelta(hours=1))
    checks_per_run: int = Field(default=DEFAULT_CHECKS_PER_RUN, ge=1, le=10_000)
    started_by: Snowflake | None = None
    # Mentioned when the state turns degraded or failing (not on recovery, not on a heartbeat).
    alert_role_id: Snowflake | None = None


class ProbeInput(BaseModel):
    guild_id: Snowflake | None
    task_queue: str
    # Failed jobs are counted from here (the previous check) to now.
    since: datetime


class ProbeResult(BaseModel):
    name: str
    state: Health
    detail: str = Field(max_length=300)
    latency_ms: float | None = None


class Seen(BaseModel):
    state: Health
    at: datetime


class HealthStop(BaseModel):
    """Ends the check. `by` is the admin, or None for an operator's signal."""

    by: Snowflake | None = None
    reason: str = Field(default="", max_length=200)


class HealthCarry(BaseModel):
    """What a run hands to the next one through continue-as-new."""

    last_state: Health | None = None
    # The last CONFIRM_CHECKS overall states, oldest first: what a change must persist through.
    recent: list[Seen] = Field(default_factory=list)
    # The state last posted to the admin channel: only a successful post changes it, so a change
    # whose post failed is posted at a later check.
    announced: Health | None = None
    # The worst state that could not be posted (Discord down for the worker too), and since when:
    # the next post that gets through says so, so an outage is never silently missed.
    unposted: Health | None = None
    unposted_since: datetime | None = None
    last_results: list[ProbeResult] = Field(default_factory=list)
    # The last RECENT_RUNS checks' overall states, oldest first (shown by the status).
    runs: list[Seen] = Field(default_factory=list)
    last_checked: datetime | None = None
    last_posted: datetime | None = None
    paused: bool = False
    checks: int = 0
    posts: int = 0
    generation: int = 0


class HealthInput(BaseModel):
    spec: HealthSpec
    carry: HealthCarry | None = None


class HealthReport(BaseModel):
    guild_id: Snowflake | None
    channel_id: Snowflake
    state: Health
    previous: Health | None
    kind: Posted
    results: list[ProbeResult]
    at: datetime
    unposted: Health | None = None
    unposted_since: datetime | None = None
    # Set on a change to degraded or failing: the post mentions this role.
    mention_role_id: Snowflake | None = None


class HealthRequest(BaseModel):
    """Pause, resume, run now. The bot checks Manage Server; the workflow checks the guild."""

    by: Snowflake
    guild_id: Snowflake | None


class HealthStatus(BaseModel):
    guild_id: Snowflake | None
    admin_channel_id: Snowflake | None
    state: Health | None
    paused: bool
    interval: timedelta
    last_checked: datetime | None
    next_check: datetime | None
    last_posted: datetime | None
    results: list[ProbeResult]
    checks: int
    posts: int
    generation: int
    alert_role_id: Snowflake | None = None
    runs: list[Seen] = Field(default_factory=list)
