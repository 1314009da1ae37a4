"""`python -m bench`: Temporal against an asyncio and an APScheduler baseline, same workload, same run."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bench.baselines import BaselineSystem, apscheduler_available
from bench.report import calls_table, save, table
from bench.run import Options, Result, run_system
from bench.system import System
from bench.temporal_system import TemporalSystem
from bench.workload import Workload

SYSTEMS = ("temporal", "asyncio", "apscheduler")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--jobs", type=int, default=1000, help="jobs to schedule (default 1000)")
    p.add_argument("--window", type=float, default=60.0, help="deadlines spread over this many s (60)")
    p.add_argument("--offsets", default="15,10,5", help="reminders, s before each deadline (15,10,5)")
    p.add_argument("--lead", type=float, default=0.0, help="s from scheduling start to first deadline (auto)")
    p.add_argument(
        "--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS)
    )
    p.add_argument("--db", choices=("sqlite", "memory"), default="sqlite", help="dev server store (sqlite)")
    p.add_argument("--concurrency", type=int, default=16, help="Scheduler.schedule calls in flight (16)")
    p.add_argument("--crash", action="store_true", help="kill -9 the worker / APScheduler process mid-window")
    p.add_argument("--crash-server", action="store_true", help="kill -9 the dev server mid-window (sqlite)")
    p.add_argument("--outage", type=float, default=5.0, help="seconds the killed process stays down (5)")
    p.add_argument("--workers", type=int, default=1, help="temporal: worker processes on the queue (1)")
    p.add_argument("--drain", type=float, default=30.0, help="max s to wait after the last due fire (30)")
    p.add_argument("--validate", action="store_true", help="fake Discord checks bodies against the spec")
    p.add_argument("--keep", action="store_true", help="keep work directories (logs, databases)")
    p.add_argument(
        "--probe-calls", action="store_true", help="time the bot's Jobs calls idle and in the burst"
    )
    p.add_argument("--small-guild-jobs", type=int, default=0, help="jobs of a second guild, same window (0)")
    p.add_argument(
        "--fifo",
        action="store_true",
        help="dev server with task-queue fairness off (first come first served)",
    )
    p.add_argument(
        "--sqlite-pragma",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="temporal: a SQLite pragma for the dev server, beside its defaults (repeatable)",
    )
    return p


def _plan(args: argparse.Namespace) -> list[tuple[System, str | None]]:
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown systems: {', '.join(sorted(unknown))}")
    if "apscheduler" in names and not apscheduler_available():
        print("skipping apscheduler: SQLAlchemy is not installed (see bench/README.md)", file=sys.stderr)
        names.remove("apscheduler")
    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if args.crash_server and args.db != "sqlite":
        raise SystemExit("--crash-server needs --db sqlite: an in-memory server forgets everything")
    temporal_only = [
        f for f in ("probe_calls", "small_guild_jobs", "fifo", "sqlite_pragma") if getattr(args, f)
    ]
    pragmas = dict(item.partition("=")[::2] for item in args.sqlite_pragma)
    if temporal_only and names != ["temporal"]:
        raise SystemExit(f"--{temporal_only[0].replace('_', '-')} needs --systems temporal")
    if args.jobs < 0 or args.small_guild_jobs < 0 or args.jobs + args.small_guild_jobs == 0:
        raise SystemExit("--jobs and --small-guild-jobs: at least one job in all")
    plan: list[tuple[System, str | None]] = []
    for name in names:
        system: System = (
            TemporalSystem(
                db=args.db,
                concurrency=args.concurrency,
                fifo=args.fifo,
                workers=args.workers,
                sqlite_pragmas=pragmas,
            )
            if name == "temporal"
            else BaselineSystem(name)
        )
        if args.crash or args.crash_server:
            if args.crash and "scheduler" in system.crash_targets and name != "asyncio":
                plan.append((system, "scheduler"))
            if args.crash_server and "server" in system.crash_targets:
                again = TemporalSystem(
                    db=args.db,
                    concurrency=args.concurrency,
                    fifo=args.fifo,
                    workers=args.workers,
                    sqlite_pragmas=pragmas,
                )
                plan.append((again if args.crash and name == "temporal" else system, "server"))
        else:
            plan.append((system, None))
    return plan


async def _main(args: argparse.Namespace) -> list[Result]:
    workload = Workload(
        jobs=args.jobs,
        window=args.window,
        offsets=tuple(int(o) for o in args.offsets.split(",") if o),
        lead=args.lead,
        small_guild_jobs=args.small_guild_jobs,
    )
    options: dict[str, Any] = {
        "outage": args.outage,
        "drain": args.drain,
        "validate": args.validate,
        "keep": args.keep,
        "probe_calls": args.probe_calls,
    }
    results = []
    for system, crash in _plan(args):
        print(
            f"running {system.name}{f' (crash {crash})' if crash else ''}: {workload.jobs} jobs ...",
            flush=True,
        )
        result = await run_system(system, workload, Options(crash=crash, **options))
        print(table([result]), flush=True)
        if result.calls:
            print(calls_table(result), flush=True)
        results.append(result)
    return results


def main() -> None:
    args = _parser().parse_args()
    results = asyncio.run(_main(args))
    print()
    print(table(results))
    for result in results:
        if result.calls:
            print(calls_table(result))
    print(f"\nresults written to {save(results, sys.argv)}")


if __name__ == "__main__":
    main()
