"""The workload: N jobs, each with reminders before a deadline, deadlines spread over a window.

Every system under test gets the same plan and posts the same texts, so one parser maps each
Discord message back to its job and fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CHANNEL_ID = 990_000_000_000_000_001
GUILD_ID = 990_000_000_000_000_002
SCHEDULED_BY = 990_000_000_000_000_003
# A second guild beside the big one (`--small-guild-jobs`): its jobs post in the same channel,
# so one parser and one count serve both; only the guild id (and fairness key) differs.
SMALL_GUILD_ID = 990_000_000_000_000_004
DEADLINE = "deadline"

_REMINDER = re.compile(r"\*\*bench (\d+)\*\* in (\d+)s")
_DEADLINE = re.compile(r"^bench (\d+) deadline$")


@dataclass(frozen=True)
class Workload:
    jobs: int = 1000
    window: float = 60.0  # deadlines spread uniformly over this many seconds
    offsets: tuple[int, ...] = (15, 10, 5)  # reminders, seconds before each deadline
    lead: float = 0.0  # seconds from the start of scheduling to the first deadline; 0 = auto
    # Jobs of SMALL_GUILD_ID, indices jobs..jobs+small_guild_jobs-1, deadlines over the same window.
    small_guild_jobs: int = 0

    @property
    def total_jobs(self) -> int:
        return self.jobs + self.small_guild_jobs

    def guild_of(self, job: int) -> int:
        return GUILD_ID if job < self.jobs else SMALL_GUILD_ID

    def schedule_order(self) -> list[int]:
        """Every job, soonest deadline first: the two guilds' jobs interleave."""
        return sorted(range(self.total_jobs), key=lambda job: (self.deadline(0.0, job), job))

    def lead_seconds(self) -> float:
        """Long enough that the first reminder still lies ahead when the last job is scheduled."""
        if self.lead > 0:
            return self.lead
        # Scheduling runs at 50-160 jobs/s on 2 cores; at 5,000 jobs jobs/100 was too short.
        return max(self.offsets, default=0) + 4.0 + self.total_jobs / 40.0

    def deadline(self, base: float, job: int) -> float:
        """Epoch seconds of job `job`'s deadline, given the first deadline `base`."""
        if job >= self.jobs:
            return base + self.window * (job - self.jobs + 0.5) / self.small_guild_jobs
        return base + self.window * (job + 0.5) / self.jobs

    def fires(self, base: float) -> list[Fire]:
        out: list[Fire] = []
        for job in range(self.total_jobs):
            deadline = self.deadline(base, job)
            out.extend(Fire(job, reminder_kind(o), deadline - o) for o in self.offsets)
            out.append(Fire(job, DEADLINE, deadline))
        out.sort(key=lambda f: f.due)
        return out

    @property
    def fires_per_job(self) -> int:
        return len(self.offsets) + 1


@dataclass(frozen=True, order=True)
class Fire:
    job: int
    kind: str  # "r15" for the reminder 15 s before the deadline, or "deadline"
    due: float = field(compare=False)

    @property
    def key(self) -> tuple[int, str]:
        return (self.job, self.kind)


def reminder_kind(offset: int) -> str:
    return f"r{offset}"


def description(job: int) -> str:
    return f"bench {job}"


def reminder_label(offset: int) -> str:
    return f"{offset}s"


def deadline_text(job: int) -> str:
    return f"bench {job} deadline"


def reminder_text(job: int, offset: int) -> str:
    """What the baselines post; the worker's reminder text has the same `**bench N** in Ms` core."""
    return f"⏰ **{description(job)}** in {reminder_label(offset)}"


def parse(content: str) -> tuple[int, str] | None:
    """(job, kind) for a post of this workload, or None."""
    if m := _REMINDER.search(content):
        return int(m.group(1)), reminder_kind(int(m.group(2)))
    if m := _DEADLINE.match(content):
        return int(m.group(1)), DEADLINE
    return None
