"""`python -m bench.waiting`: many jobs waiting days ahead, and what they cost while they wait.

    python -m bench.waiting --jobs 100000 --guilds 100 --probe-guild-jobs 1000

Starts the dev server (SQLite file), the fake Discord and `python worker.py`, schedules `--jobs`
jobs due `--days` ahead spread over `--guilds` guilds (one guild, the probe guild, gets
`--probe-guild-jobs` of them), then reports:

- how fast they were started (jobs/s through the Jobs client, `--concurrency` in flight);
- the server's database size (the SQLite file and its write-ahead log) and the worker's and the
  server's resident memory, with every job's first task done and the worker holding them cached;
- the bot's calls for the probe guild: the dashboard's first and last page drawn cold, Next and
  Refresh (which start from the page before) (`Jobs.page_jobs`),
  every job (`Jobs.get_jobs`), count (one visibility count) and status (a query, which a worker
  answers), p50/p99 over `--samples` calls each;
- a worker restart (kill -9, start again): how long until the new worker answers a query, and
  how late a job due `--probe-after` s after the restart fires, and where that time went (its
  history: timer, dispatch to the worker, the worker's task).

Prints the figures and writes them as JSON under bench/results/. Never part of the tests.
`--listing-only --workdir DIR` times the listing calls again on the database a run kept in DIR
(a change to the listing measured on the same jobs, without starting them again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.fake import FakeProcess, snowflake_time
from bench.measure import percentile
from bench.report import RESULTS
from bench.temporal_system import FIFO_DYNAMIC_CONFIG, FIRE_PHASES, timer_phases
from bench.workload import CHANNEL_ID
from clients.jobs import Jobs
from clients.jobs_listing import job_query
from stack.devserver import DEFAULT_DYNAMIC_CONFIG, DevServer, free_port
from tests.support.temporal import connect_client
from tests.support.worker_process import WorkerProcess

SCHEDULED_BY = 42
GUILD_BASE = 800_000_000_000_000_000
PAGE = 6  # the dashboard's page (bot/jobs_ui.py PAGE_SIZE)


@dataclass
class Figures:
    jobs: int
    guilds: int
    start_seconds: float = 0.0
    db_bytes: int = 0
    worker_rss_idle: int = 0  # before any job
    worker_rss: int = 0
    server_rss: int = 0
    calls_ms: dict[str, tuple[float, float]] | None = None  # name -> (p50, p99)
    first_tasks_done_s: float = 0.0  # first start .. the task queue's backlog empty
    restart_answers_s: float = 0.0
    restart_probe_late_s: float = 0.0
    restart_probe_phases_s: dict[str, float] | None = None

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        rate = self.jobs / max(self.start_seconds, 1e-9)
        per_job = self.db_bytes / self.jobs
        out = [
            f"jobs waiting          {self.jobs:,} over {self.guilds} guilds",
            f"started in            {self.start_seconds:.1f} s ({rate:,.0f} jobs/s)",
            f"first tasks done in   {self.first_tasks_done_s:.1f} s"
            f" ({self.jobs / max(self.first_tasks_done_s, 1e-9):,.0f} jobs/s)",
            f"server database       {self.db_bytes / mib:,.1f} MiB ({per_job:,.0f} B a job)",
            f"worker RSS            {self.worker_rss / mib:,.0f} MiB"
            f" ({self.worker_rss_idle / mib:,.0f} MiB before any job)",
            f"server RSS            {self.server_rss / mib:,.0f} MiB",
        ]
        for name, (p50, p99) in (self.calls_ms or {}).items():
            out.append(f"bot call {name:<12} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
        out.append(f"restarted worker      answers a query after {self.restart_answers_s:.1f} s")
        out.append(
            f"                      a job due after the restart fired {self.restart_probe_late_s:.2f} s late"
        )
        for phase, seconds in (self.restart_probe_phases_s or {}).items():
            out.append(f"                      {phase:<16} {seconds:.3f} s")
        return out


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def _schedule_all(jobs: Jobs, plan: list[tuple[int, timedelta]], concurrency: int) -> list[str]:
    queue: asyncio.Queue[tuple[int, timedelta]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    ids: list[str] = []

    async def one() -> None:
        while not queue.empty():
            guild, delay = queue.get_nowait()
            ids.append(
                await jobs.schedule(
                    "post_message",
                    {"content": "a round far ahead"},
                    guild_id=guild,
                    channel_id=CHANNEL_ID,  # the one channel the benchmark's fake Discord has
                    scheduled_by=SCHEDULED_BY,
                    delay=delay,
                    description="waiting",
                )
            )

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return ids


async def _drained(client: Client, queue: str, timeout: float) -> float:
    """The monotonic time at which the queue's workflow-task backlog was seen empty."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        report_stats=True,
    )
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        described = await client.workflow_service.describe_task_queue(request)
        backlog = described.stats.approximate_backlog_count
        if backlog == 0:
            return time.monotonic()
        print(f"  first tasks waiting: {backlog:,}", flush=True)
        await asyncio.sleep(10)
    raise SystemExit(f"the first tasks were not done within {timeout:.0f} s")


async def _timed(samples: int, call: Any) -> tuple[float, float]:
    took = []
    for _ in range(samples):
        start = time.perf_counter()
        await call()
        took.append((time.perf_counter() - start) * 1000)
    print(f"  p50 {percentile(took, 50):.1f} ms, p99 {percentile(took, 99):.1f} ms", flush=True)
    return percentile(took, 50), percentile(took, 99)


async def _listing_calls(client: Client, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """The probe guild's listing calls, p50/p99 each: the visibility store's share of the bot.
    A page drawn cold (a new client: nothing to start from) and pages drawn as a user pages on,
    which start from the bounds of the page before (`PageHints`)."""
    guild, last_page = GUILD_BASE, (args.probe_guild_jobs - 1) // PAGE

    def cold(page: int) -> Any:
        return lambda: Jobs(client, "waiting-listing").page_jobs(guild, page=page, size=PAGE)

    paging = Jobs(client, "waiting-listing")
    await paging.page_jobs(guild, page=0, size=PAGE)  # what the first Next starts from
    turns = iter(range(1, last_page + 1))
    calls = {
        "first page": await _timed(args.samples, cold(0)),
        "last page": await _timed(args.samples, cold(last_page)),
        "next page": await _timed(
            min(args.samples, last_page), lambda: paging.page_jobs(guild, page=next(turns), size=PAGE)
        ),
        "refresh": await _timed(args.samples, lambda: paging.page_jobs(guild, page=3, size=PAGE)),
        "list all": await _timed(max(args.samples // 5, 3), lambda: paging.get_jobs(guild)),
        "count": await _timed(args.samples, lambda: client.count_workflows(job_query(guild))),
    }
    print(f"the probe guild lists {len(await paging.get_jobs(guild)):,} jobs", flush=True)
    return calls


async def listing_only(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """`--listing-only`: the listing calls again, on the database an earlier run kept in
    `--workdir` (no worker: the jobs wait, and listing is the server's alone)."""
    db = Path(args.workdir) / "temporal.sqlite"
    if not db.is_file():
        raise SystemExit(f"--listing-only needs the --workdir of an earlier run: no {db}")
    async with DevServer(db_file=db, port=free_port(), headless=True) as server:
        return await _listing_calls(await connect_client(server), args)


async def run(args: argparse.Namespace) -> Figures:
    workdir = Path(args.workdir or f"/tmp/bench-waiting-{uuid.uuid4().hex[:6]}")
    workdir.mkdir(parents=True, exist_ok=True)
    figures = Figures(jobs=args.jobs, guilds=args.guilds)
    db = workdir / "temporal.sqlite"
    fake = FakeProcess(workdir)
    dynamic = DEFAULT_DYNAMIC_CONFIG | (FIFO_DYNAMIC_CONFIG if args.fifo else {})
    async with DevServer(db_file=db, port=free_port(), headless=True, dynamic_config=dynamic) as server:
        remote = await fake.start()
        try:
            async with WorkerProcess(
                temporal_address=server.address,
                task_queue=f"waiting-{uuid.uuid4().hex[:6]}",
                discord_api_base=remote.base_url,
                log_dir=workdir,
            ) as worker:
                assert worker.proc is not None and server.pid is not None
                figures.worker_rss_idle = _rss(worker.proc.pid)
                client = await connect_client(server)
                jobs = Jobs(client, worker.task_queue)
                probe_guild = GUILD_BASE
                others = [GUILD_BASE + g for g in range(1, args.guilds)]
                far = timedelta(days=args.days)
                # The probe guild's jobs spread among the others' over the same span: a page of it
                # then has to look past other guilds' jobs, as in a bot that has been running a while.
                every = args.jobs // max(args.probe_guild_jobs, 1)
                probes = set(range(0, every * args.probe_guild_jobs, every))
                plan = [
                    (probe_guild if i in probes else others[i % len(others)], far + timedelta(seconds=i))
                    for i in range(args.jobs)
                ]
                start = time.monotonic()
                ids = await _schedule_all(jobs, plan, args.concurrency)
                figures.start_seconds = time.monotonic() - start
                print(f"started {len(ids):,} jobs in {figures.start_seconds:.1f} s", flush=True)

                # Every job's first task must be done before memory and size mean anything: the
                # worker drains the backlog of first tasks after the starts (at 100,000 it was most).
                queue = worker.task_queue
                figures.first_tasks_done_s = await _drained(client, queue, args.drain_timeout) - start
                print(
                    f"every first task done {figures.first_tasks_done_s:.1f} s after the first start",
                    flush=True,
                )
                await asyncio.sleep(args.settle)
                figures.db_bytes = _db_bytes(db)
                assert worker.proc is not None and server.pid is not None
                figures.worker_rss, figures.server_rss = _rss(worker.proc.pid), _rss(server.pid)

                probe_id = next(i for i in ids if i.startswith(f"job-{probe_guild}-"))
                figures.calls_ms = await _listing_calls(client, args)
                figures.calls_ms["status"] = await _timed(args.samples, lambda: jobs.status(probe_id))

                worker.kill()
                restarted = time.monotonic()
                worker.start()
                due = datetime.now(UTC) + timedelta(seconds=args.probe_after)
                probe = await jobs.schedule(
                    "post_message",
                    {"content": "probe after restart"},
                    guild_id=probe_guild,
                    channel_id=CHANNEL_ID,
                    scheduled_by=SCHEDULED_BY,
                    at=due,
                )
                while True:
                    try:
                        await asyncio.wait_for(jobs.status(probe_id), timeout=2)
                        break
                    except Exception:  # no worker yet: the query times out or fails
                        await asyncio.sleep(0.1)
                figures.restart_answers_s = time.monotonic() - restarted
                await client.get_workflow_handle(probe).result()
                posted = [m for m in await remote.messages() if m.content == "probe after restart"]
                # The fake's message ids are snowflakes: their time is when the post arrived.
                figures.restart_probe_late_s = snowflake_time(posted[0].id) - due.timestamp()
                phases: dict[str, list[float]] = {k: [] for k in FIRE_PHASES}
                timer_phases((await client.get_workflow_handle(probe).fetch_history()).events, phases)
                # The last fire is the deadline's: where its lateness went.
                figures.restart_probe_phases_s = {k: v[-1] for k, v in phases.items() if v}
        finally:
            await remote.close()
            fake.stop()
    return figures


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.waiting", description=__doc__)
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--guilds", type=int, default=100)
    p.add_argument("--probe-guild-jobs", type=int, default=1000)
    p.add_argument("--days", type=float, default=3.0, help="how far ahead the jobs are due (3)")
    p.add_argument("--concurrency", type=int, default=32, help="schedule calls in flight (32)")
    p.add_argument("--settle", type=float, default=20.0, help="s to wait after the first tasks (20)")
    p.add_argument("--drain-timeout", type=float, default=3600.0, help="s the first tasks may take")
    p.add_argument("--samples", type=int, default=50, help="calls of each kind to time (50)")
    p.add_argument("--probe-after", type=float, default=15.0, help="s after the restart a probe is due")
    p.add_argument("--workdir", help="keep the server's database and logs here")
    p.add_argument("--fifo", action="store_true", help="the server without task-queue fairness, to compare")
    p.add_argument(
        "--listing-only",
        action="store_true",
        help="time only the probe guild's listing calls, on the database of an earlier run's --workdir",
    )
    args = p.parse_args()
    if args.probe_guild_jobs > args.jobs:
        raise SystemExit("--probe-guild-jobs cannot exceed --jobs")
    if args.listing_only:
        for name, (p50, p99) in asyncio.run(listing_only(args)).items():
            print(f"bot call {name:<12} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
        return
    figures = asyncio.run(run(args))
    print("\n".join(figures.lines()))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"waiting-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), **figures.__dict__}, indent=2, default=str))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
