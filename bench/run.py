"""One system through one workload: start, schedule, (crash,) wait for every fire, measure."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.calls import CallProber
from bench.fake import FakeProcess, count_posts, observe
from bench.measure import FireStats, ProcMonitor, fire_stats, sleep_until
from bench.system import System
from bench.temporal_system import TemporalSystem
from bench.workload import DEADLINE, SMALL_GUILD_ID, Workload

# The roles whose CPU is the system's cost; "fake" (Discord) and "bench" (the bot side) are not.
# Worker replicas beyond the first are "worker2", "worker3", ... (see `system_role`).
SYSTEM_ROLES = ("worker", "server", "scheduler")


def system_role(role: str) -> bool:
    """Whether a monitor role's CPU is the system's cost (every worker replica is)."""
    return role in SYSTEM_ROLES or (role.startswith("worker") and role[6:].isdigit())


@dataclass(frozen=True)
class Options:
    crash: str | None = None  # None, "scheduler" or "server"
    outage: float = 5.0
    drain: float = 30.0  # at most this long after the last due time for posts still to come
    validate: bool = False
    keep: bool = False  # keep the work directory (logs, databases)
    probe_calls: bool = False  # time the bot's Jobs calls on a probe guild (Temporal only)
    probe_idle: float = 15.0  # seconds of probing before the workload is scheduled


@dataclass
class Result:
    system: str
    jobs: int
    fires: int
    schedule_seconds: float
    schedule_rate: float  # jobs per second through the system's own scheduling call
    overlap: float  # seconds scheduling ran past the first due fire (0 is what we want)
    stats: FireStats
    cpu: dict[str, float]  # CPU seconds per role over the firing window (fake and bench: not ours)
    peak_rss: dict[str, int]
    crash: str | None = None
    outage: dict[str, float] = field(default_factory=dict)  # killed at / back at, seconds into the window
    outage_stats: FireStats | None = None
    details: dict[str, Any] = field(default_factory=dict)
    workdir: str = ""

    window_seconds: float = 0.0  # first due fire .. end of measurement
    others_cpu: float = math.nan  # CPU-s of processes not in this benchmark over the window
    deadline_stats: FireStats | None = None  # the deadlines alone: what must never be lost
    small_guild_jobs: int = 0
    small_guild_stats: FireStats | None = None  # the second guild's deadlines (--small-guild-jobs)
    small_guild_all_stats: FireStats | None = None  # its reminders and deadlines
    calls: dict[str, Any] = field(default_factory=dict)  # CallProber.summary() (--probe-calls)

    @property
    def cpu_ms_per_fire(self) -> float:
        ours = sum(v for k, v in self.cpu.items() if system_role(k))
        return 1000.0 * ours / self.fires if self.fires else math.nan

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["stats"] = self.stats.as_dict()
        out["outage_stats"] = self.outage_stats.as_dict() if self.outage_stats else None
        for name in ("deadline_stats", "small_guild_stats", "small_guild_all_stats"):
            stats = getattr(self, name)
            out[name] = stats.as_dict() if stats else None
        out["cpu_ms_per_fire"] = self.cpu_ms_per_fire
        return out


async def run_system(system: System, workload: Workload, options: Options) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{system.name}-"))
    fake = FakeProcess(workdir, validate=options.validate)
    monitor = ProcMonitor()
    prober: CallProber | None = None
    try:
        remote = await fake.start()
        monitor.add("fake", fake.pid)
        monitor.add("bench", os.getpid())
        await system.start(workdir, fake.base_url, monitor)
        monitor.start()
        if options.probe_calls and isinstance(system, TemporalSystem):
            prober = CallProber(system.facade())
            prober.start()
            await asyncio.sleep(options.probe_idle)
            prober.mark("scheduling")
        scheduled = await system.schedule(workload)
        if prober is not None:
            prober.mark("waiting")
        fires = workload.fires(scheduled.base)
        first, last = fires[0].due, fires[-1].due
        await sleep_until(first - 0.2)
        monitor.mark()
        if prober is not None:
            prober.mark("burst")
        window: dict[str, float] = {}
        if options.crash:
            await sleep_until(first + (last - first) / 2)
            window["killed_at"] = time.time()
            await system.kill(options.crash)
            await asyncio.sleep(options.outage)
            await system.restart(options.crash)
            window["back_at"] = time.time()
        await sleep_until(last)
        end = last + options.drain
        while time.time() < end and await count_posts(remote) < len(fires):
            await asyncio.sleep(1.0)
        if prober is not None:
            await prober.stop()
        await asyncio.sleep(2.0)  # room for a late duplicate
        await monitor.stop()
        measured_until = time.time()
        observed = await observe(remote)
        if not options.validate:
            violations: list[Any] = []
        else:
            violations = [str(v) for v in await remote.violations()]
        await remote.close()
        details = await system.details()
        if violations:
            details["discord_violations"] = violations[:10]
        outage_stats = None
        if window:
            hit = [f for f in fires if window["killed_at"] <= f.due <= window["back_at"]]
            outage_stats = fire_stats(hit, observed)
            window = {k: v - first for k, v in window.items()} | {"fires_due": float(len(hit))}
        small_all = [f for f in fires if workload.guild_of(f.job) == SMALL_GUILD_ID]
        small = [f for f in small_all if f.kind == DEADLINE]
        elapsed = scheduled.end - scheduled.start
        return Result(
            system=system.name,
            jobs=workload.jobs,
            fires=len(fires),
            schedule_seconds=elapsed,
            schedule_rate=workload.total_jobs / elapsed if elapsed > 0 else math.inf,
            overlap=max(0.0, scheduled.end - first),
            stats=fire_stats(fires, observed),
            deadline_stats=fire_stats([f for f in fires if f.kind == DEADLINE], observed),
            cpu=monitor.cpu_seconds(),
            window_seconds=measured_until - first,
            others_cpu=monitor.others_cpu_seconds(),
            peak_rss=dict(monitor.peak_rss),
            crash=options.crash,
            outage=window,
            outage_stats=outage_stats,
            details=details,
            workdir=str(workdir) if options.keep else "",
            small_guild_jobs=workload.small_guild_jobs,
            small_guild_stats=fire_stats(small, observed) if small else None,
            small_guild_all_stats=fire_stats(small_all, observed) if small_all else None,
            calls=prober.summary() if prober is not None else {},
        )
    finally:
        with contextlib.suppress(Exception):
            await monitor.stop()
        if prober is not None:
            await prober.stop()
        await system.stop()
        fake.stop()
        if not options.keep:
            _remove(workdir)


def _remove(path: Path) -> None:
    for child in sorted(path.rglob("*"), reverse=True):
        with contextlib.suppress(OSError):
            child.rmdir() if child.is_dir() else child.unlink()
    with contextlib.suppress(OSError):
        path.rmdir()
