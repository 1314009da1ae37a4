"""Temporal: the dev server (SQLite file by default), `python worker.py`, and the real Jobs facade."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench.measure import ProcMonitor, percentile
from bench.outage_phases import OutageFires
from bench.system import Scheduled
from bench.workload import (
    CHANNEL_ID,
    SCHEDULED_BY,
    Workload,
    deadline_text,
    description,
    reminder_label,
)
from clients.jobs import Jobs
from stack.devserver import (
    DEFAULT_DYNAMIC_CONFIG,
    DEFAULT_SQLITE_PRAGMAS,
    FAIRNESS_DYNAMIC_CONFIG,
    DevServer,
    free_port,
)
from stack.temporal import data_converter
from tests.support.temporal import TEST_KEY
from tests.support.worker_process import WorkerProcess
from workflows.jobs_models import Reminder

FIRE_PHASES = {
    "timer_set_late": "TimerStarted recorded after the workflow task that computed it started",
    "timer_fire_late": "TimerFired after TimerStarted + its duration (the server's timer queue)",
    "task_dispatch": "next WorkflowTaskStarted after TimerFired (matching and the worker's poll)",
    "task_run": "WorkflowTaskCompleted after its start (the worker, the local activity's post included)",
    "task_timed_out": "WorkflowTaskTimedOut after TimerFired: a sticky task moved to the shared queue",
}

# `--fifo`: the server's dispatch without fairness (first come first served), for comparison.
FIFO_DYNAMIC_CONFIG: dict[str, object] = {key: False for key in FAIRNESS_DYNAMIC_CONFIG}


def timer_phases(events: Sequence[HistoryEvent], out: dict[str, list[float]]) -> None:
    """Where a fire's time goes, from the event times of one job's history."""

    def at(e: HistoryEvent) -> float:
        return e.event_time.ToDatetime().timestamp()

    wft_started: float | None = None
    timers: dict[int, float] = {}  # TimerStarted event id -> when it should fire
    fired_at: float | None = None
    for e in events:
        kind = e.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            wft_started = at(e)
            if fired_at is not None:
                out["task_dispatch"].append(wft_started - fired_at)
                fired_at = None
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT and fired_at is not None:
            out["task_timed_out"].append(at(e) - fired_at)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and wft_started is not None:
            out["task_run"].append(at(e) - wft_started)
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            attrs = e.timer_started_event_attributes
            timers[e.event_id] = at(e) + attrs.start_to_fire_timeout.ToTimedelta().total_seconds()
            if wft_started is not None:
                out["timer_set_late"].append(at(e) - wft_started)
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            due = timers.get(e.timer_fired_event_attributes.started_event_id)
            if due is not None:
                out["timer_fire_late"].append(at(e) - due)
            fired_at = at(e)


def _p50_p99(phases: dict[str, list[float]]) -> dict[str, list[float]]:
    return {k: [round(percentile(v, 50), 4), round(percentile(v, 99), 4)] for k, v in phases.items()}


def worker_role(replica: int) -> str:
    """The monitor's role (and log name) of worker replica 0, 1, ...: worker, worker2, ..."""
    return "worker" if replica == 0 else f"worker{replica + 1}"


class TemporalSystem:
    name = "temporal"
    crash_targets: tuple[str, ...] = ("scheduler", "server")

    def __init__(
        self,
        *,
        db: str,
        concurrency: int,
        history_samples: int = 20,
        fifo: bool = False,
        workers: int = 1,
        sqlite_pragmas: dict[str, str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.db = db
        self.fifo = fifo
        self.sqlite_pragmas = DEFAULT_SQLITE_PRAGMAS | (sqlite_pragmas or {})
        self.concurrency = concurrency
        self.history_samples = history_samples
        self.replicas = workers
        self.server: DevServer | None = None
        self.worker: WorkerProcess | None = None  # the first replica: the one a crash kills
        self.workers: list[WorkerProcess] = []
        self.client: Client | None = None
        self.monitor: ProcMonitor | None = None
        self.job_ids: list[str] = []
        self.small_guild_ids: list[str] = []
        self.outage: tuple[float, float] | None = None  # a worker's kill .. its restart being ready
        self._started: dict[int, str] = {}  # worker pid -> "worker#1", "worker2#1", ... (role#start)

    async def start(self, workdir: Path, discord_url: str, monitor: ProcMonitor) -> None:
        self.monitor = monitor
        db_file = workdir / "temporal.sqlite" if self.db == "sqlite" else None
        dynamic = DEFAULT_DYNAMIC_CONFIG | (FIFO_DYNAMIC_CONFIG if self.fifo else {})
        self.server = DevServer(
            db_file=db_file,
            port=free_port(),
            headless=True,
            log_file=workdir / "temporal-server.log",
            dynamic_config=dynamic,
            sqlite_pragmas=self.sqlite_pragmas,
        )
        await self.server.start()
        assert self.server.pid is not None
        monitor.add("server", self.server.pid)
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        for i in range(self.replicas):
            replica = WorkerProcess(
                temporal_address=self.server.address,
                task_queue=queue,
                discord_api_base=discord_url,
                log_dir=workdir,
            )
            replica.NAME = worker_role(i)  # its own log files, worker2-1.log, ...
            self.workers.append(replica)
        self.worker = self.workers[0]
        await asyncio.gather(*(self._start_worker(w) for w in self.workers))
        self.client = await Client.connect(self.server.address, data_converter=data_converter([TEST_KEY]))

    async def _start_worker(self, worker: WorkerProcess) -> None:
        assert self.monitor is not None
        worker.start()
        assert worker.proc is not None
        self.monitor.add(worker.NAME, worker.proc.pid)
        self._started[worker.proc.pid] = f"{worker.NAME}#{worker.starts}"
        await worker.wait_started(timeout=60)

    def facade(self) -> Jobs:
        """The bot's Jobs facade on this system's server and task queue (the call prober uses it)."""
        assert self.client is not None and self.worker is not None
        return Jobs(self.client, self.worker.task_queue)

    async def schedule(self, workload: Workload) -> Scheduled:
        scheduler = self.facade()
        reminders = [
            Reminder(offset=timedelta(seconds=o), message=reminder_label(o)) for o in workload.offsets
        ]
        start = time.time()
        base = start + workload.lead_seconds()
        ids: list[str] = [""] * workload.total_jobs
        gate = asyncio.Semaphore(self.concurrency)

        async def one(job: int) -> None:
            async with gate:
                ids[job] = await scheduler.schedule(
                    "post_message",
                    {"content": deadline_text(job)},
                    guild_id=workload.guild_of(job),
                    channel_id=CHANNEL_ID,
                    scheduled_by=SCHEDULED_BY,
                    at=datetime.fromtimestamp(workload.deadline(base, job), UTC),
                    reminders=reminders,
                    description=description(job),
                )

        # Soonest first, so a slow start never pushes a reminder into the past.
        await asyncio.gather(*(one(job) for job in workload.schedule_order()))
        self.job_ids = ids[: workload.jobs]
        self.small_guild_ids = ids[workload.jobs :]
        return Scheduled(start, time.time(), base)

    async def kill(self, target: str) -> None:
        if target == "server":
            assert self.server is not None
            self.server.kill()
        else:
            assert self.worker is not None
            self.outage = (time.time(), 0.0)
            self.worker.kill()  # the first replica only: the others keep polling the queue

    async def restart(self, target: str) -> None:
        if target == "server":
            assert self.server is not None and self.monitor is not None
            await self.server.restart()
            assert self.server.pid is not None
            self.monitor.add("server", self.server.pid)
        else:
            assert self.worker is not None and self.outage is not None
            await self._start_worker(self.worker)
            self.outage = (self.outage[0], time.time())

    async def details(self) -> dict[str, Any]:
        """History events and workflow tasks per job, from a few finished jobs."""
        out: dict[str, Any] = {}
        if self.client is None:
            return out
        if self.outage:
            out |= await self._outage_details()
        if self.small_guild_ids:
            small_events, phases = await self._sample_histories(self.small_guild_ids)
            out["small_guild_fire_phases_p50_p99_s"] = _p50_p99(phases)
            n = min(len(self.small_guild_ids), self.history_samples)
            # WORKFLOW_TASK_TIMED_OUT here is a sticky task moved to the shared queue after the
            # worker's sticky schedule-to-start timeout: time fairness cannot shorten.
            out["small_guild_events_per_job_by_type"] = {k: v / n for k, v in sorted(small_events.items())}
        if not self.job_ids:
            return out
        events, phases = await self._sample_histories(self.job_ids)
        n = min(len(self.job_ids), self.history_samples)
        return out | {
            "history_events_per_job": sum(events.values()) / n,
            "workflow_tasks_per_job": events["WORKFLOW_TASK_COMPLETED"] / n,
            "events_per_job_by_type": {k: v / n for k, v in sorted(events.items())},
            "fire_phases_p50_p99_s": _p50_p99(phases),
        }

    async def _sample_histories(self, ids: list[str]) -> tuple[Counter[str], dict[str, list[float]]]:
        assert self.client is not None
        step = max(1, len(ids) // self.history_samples)
        events: Counter[str] = Counter()
        phases: dict[str, list[float]] = {k: [] for k in FIRE_PHASES}
        for job_id in ids[::step][: self.history_samples]:
            history = await self.client.get_workflow_handle(job_id).fetch_history()
            for event in history.events:
                events[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
            timer_phases(history.events, phases)
        return events, phases

    async def _outage_details(self, samples: int = 250) -> dict[str, Any]:
        """The fires due in a worker outage, by what their workflow task waited for."""
        assert self.client is not None and self.outage is not None
        fires = OutageFires()
        for job_id in self.job_ids[:: max(1, len(self.job_ids) // samples)]:
            history = await self.client.get_workflow_handle(job_id).fetch_history()
            fires.add(history.events, *self.outage)
        names = {f"{pid}@{socket.gethostname()}": name for pid, name in self._started.items()}
        return {"outage_fires_sampled": fires.summary(names)}

    async def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.server is not None:
            await self.server.stop()
