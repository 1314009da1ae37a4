"""Stand-ins for the health check's probes and report, registered under the same names: the
Discord probe fails inside the outages it is given (in server time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from tests.support.guild_checks_doubles import GuildDoubles
from tests.support.jobs_doubles import Clock
from workflows.health_models import (
    POST_HEALTH_REPORT,
    PROBE_DISCORD,
    PROBE_FAILED_JOBS,
    PROBE_TASK_QUEUE,
    HealthReport,
    ProbeInput,
    ProbeResult,
)

GUILD = 111
ADMIN_CHANNEL = 555
ADMIN = 333
QUEUE = "health"


@dataclass
class Probes:
    env: Clock
    outages: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Inside these, the failed-jobs probe finds failures: the check is degraded, not failing.
    failures: list[tuple[datetime, datetime]] = field(default_factory=list)
    # When set, the report cannot be posted (Discord is down for the worker too).
    post_fails_during_outage: bool = False
    reports: list[HealthReport] = field(default_factory=list)
    checks: list[datetime] = field(default_factory=list)
    since: list[datetime] = field(default_factory=list)
    # What Discord says about the admin channel's server (the check's own look).
    discord_guild: GuildDoubles = field(default_factory=GuildDoubles)

    async def down(self) -> bool:
        now = await self.env.get_current_time()
        return any(start <= now < end for start, end in self.outages)

    def activities(self) -> list[object]:
        @activity.defn(name=PROBE_DISCORD)
        async def probe_discord(probe: ProbeInput) -> ProbeResult:
            self.checks.append(await self.env.get_current_time())
            self.since.append(probe.since)
            if await self.down():
                return ProbeResult(name=PROBE_DISCORD, state="failing", detail="Discord answered (503)")
            return ProbeResult(name=PROBE_DISCORD, state="healthy", detail="answered in 80 ms", latency_ms=80)

        @activity.defn(name=PROBE_TASK_QUEUE)
        async def probe_task_queue(probe: ProbeInput) -> ProbeResult:
            return ProbeResult(
                name=PROBE_TASK_QUEUE, state="healthy", detail="1 workflow and 1 activity pollers"
            )

        @activity.defn(name=PROBE_FAILED_JOBS)
        async def probe_failed_jobs(probe: ProbeInput) -> ProbeResult:
            now = await self.env.get_current_time()
            if any(start <= now < end for start, end in self.failures):
                return ProbeResult(name=PROBE_FAILED_JOBS, state="degraded", detail="2 job(s) failed")
            return ProbeResult(name=PROBE_FAILED_JOBS, state="healthy", detail="no job failed")

        @activity.defn(name=POST_HEALTH_REPORT)
        async def post_health_report(report: HealthReport) -> dict[str, str]:
            if self.post_fails_during_outage and await self.down():
                raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")
            self.reports.append(report)
            return {"message_id": str(len(self.reports))}

        return [
            probe_discord,
            probe_task_queue,
            probe_failed_jobs,
            post_health_report,
            self.discord_guild.activity(),
        ]
