"""The bot's calls under load (`--probe-calls`): latency of each Jobs facade call, by phase.

A steady loop on its own guild (PROBE_GUILD_ID), so the workload's posts and counts are untouched:
schedule a job an hour ahead, status it, reschedule it, list the probe guild, cancel it; one cycle
per `interval` seconds, so the prober itself is a few calls a second, not load. Each call is timed
from the bot's side (the facade call's await, as a cog would make it) and filed under the phase
current when it started: "idle" (system up, nothing scheduled yet), "scheduling" (the workload's
bulk schedule), "waiting" (all scheduled, before the first fire) and "burst" (the firing window).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from bench.measure import percentile
from clients.jobs import Jobs
from workflows.jobs_models import Reminder

PROBE_GUILD_ID = 990_000_000_000_000_010
PROBE_CHANNEL_ID = 990_000_000_000_000_011
PROBE_USER = 990_000_000_000_000_012
CALLS = ("schedule", "status", "reschedule", "get_jobs", "cancel")
PHASES = ("idle", "scheduling", "waiting", "burst")

T = TypeVar("T")


class CallProber:
    def __init__(self, jobs: Jobs, *, interval: float = 1.0) -> None:
        self.jobs = jobs
        self.interval = interval
        self.phase = "idle"
        self.samples: dict[tuple[str, str], list[float]] = defaultdict(list)  # (call, phase) -> s
        self.errors: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self._cycles = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def mark(self, phase: str) -> None:
        assert phase in PHASES, phase
        self.phase = phase

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _timed(self, call: str, make: Callable[[], Awaitable[T]]) -> T | None:
        # The first cycle warms connections and the worker's cache: not a figure of any phase.
        phase, start = (self.phase if self._cycles else "warm-up"), time.perf_counter()
        try:
            result = await make()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a refusal or a timeout is a figure too, not the end of the probe
            self.errors[(call, phase)].append(f"{type(err).__name__}: {err}"[:200])
            return None
        self.samples[(call, phase)].append(time.perf_counter() - start)
        return result

    async def _cycle(self, n: int) -> None:
        jobs = self.jobs
        reminders = [Reminder(offset=timedelta(minutes=10), message="10 minutes")]
        job_id = await self._timed(
            "schedule",
            lambda: jobs.schedule(
                "post_message",
                {"content": f"probe {n}"},
                guild_id=PROBE_GUILD_ID,
                channel_id=PROBE_CHANNEL_ID,
                scheduled_by=PROBE_USER,
                delay=timedelta(hours=1),
                reminders=reminders,
                description=f"probe {n}",
            ),
        )
        if job_id is None:
            return
        await self._timed("status", lambda: jobs.status(job_id))
        await self._timed(
            "reschedule",
            lambda: jobs.reschedule(job_id, by=PROBE_USER, guild_id=PROBE_GUILD_ID, delay=timedelta(hours=2)),
        )
        await self._timed("get_jobs", lambda: jobs.get_jobs(PROBE_GUILD_ID))
        await self._timed("cancel", lambda: jobs.cancel(job_id, by=PROBE_USER, guild_id=PROBE_GUILD_ID))

    async def _run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while True:
            await self._cycle(n)
            n += 1
            self._cycles = n
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - self.interval)  # a slow cycle does not cause a rush

    def summary(self) -> dict[str, Any]:
        """{call: {phase: {"n", "p50", "p99", "max", "errors"}}} in seconds, for the phases seen."""
        out: dict[str, Any] = {}
        for call in CALLS:
            row: dict[str, Any] = {}
            for phase in PHASES:
                values = self.samples.get((call, phase), [])
                errors = self.errors.get((call, phase), [])
                if not values and not errors:
                    continue
                row[phase] = {
                    "n": len(values),
                    "p50": percentile(values, 50),
                    "p99": percentile(values, 99),
                    "max": max(values, default=float("nan")),
                    "errors": len(errors),
                    "first_errors": errors[:3],
                }
            out[call] = row
        return out
