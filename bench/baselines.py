"""The baselines, each in its own process: `python -m bench.baselines {asyncio,apscheduler} ...`.

- asyncio: `loop.call_at` per fire, no durability at all: the lower bound.
- apscheduler: APScheduler 3 `AsyncIOScheduler` with a `SQLAlchemyJobStore` on a SQLite file (WAL,
  synchronous=NORMAL, as the dev server's pragmas), misfire grace 60 s (the workflow's reminder grace).

Both post the same texts to the same fake Discord over HTTP with aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.measure import ProcMonitor
from bench.system import Scheduled
from bench.workload import CHANNEL_ID, DEADLINE, Workload, deadline_text, reminder_text

REPO = Path(__file__).resolve().parents[1]
_session: aiohttp.ClientSession | None = None
_url = ""


async def post(job: int, kind: str) -> None:
    """One fire: the same request the worker's discord.py makes (minus the nonce)."""
    assert _session is not None
    content = deadline_text(job) if kind == DEADLINE else reminder_text(job, int(kind[1:]))
    for attempt in range(5):
        try:
            async with _session.post(_url, json={"content": content}) as resp:
                if resp.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.5 * (attempt + 1))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


async def _child(args: argparse.Namespace) -> None:
    global _session, _url
    _url = f"{args.discord.rstrip('/')}/channels/{CHANNEL_ID}/messages"
    _session = aiohttp.ClientSession(headers={"Authorization": "Bot fake-bot-token"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    workload = Workload(jobs=args.jobs, window=args.window, offsets=tuple(args.offsets), lead=args.lead)
    info = Path(args.info_file)
    scheduler: Any = None
    if args.system == "apscheduler":
        scheduler = _apscheduler(Path(args.db))
        scheduler.start()
    if args.resume:
        _write_json(info, {"ready": time.time()})
    else:
        start = time.time()
        base = start + workload.lead_seconds()
        tasks: set[asyncio.Task[None]] = set()
        for fire in sorted(workload.fires(base), key=lambda f: (f.job, f.due)):
            if scheduler is not None:
                scheduler.add_job(
                    post,
                    "date",
                    run_date=datetime.fromtimestamp(fire.due, UTC),
                    args=[fire.job, fire.kind],
                    id=f"{fire.job}-{fire.kind}",
                )
            else:
                loop.call_at(loop.time() + fire.due - time.time(), _spawn, tasks, fire.job, fire.kind)
        _write_json(info, {"start": start, "end": time.time(), "base": base})
    await stop.wait()
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    await _session.close()


def _spawn(tasks: set[asyncio.Task[None]], job: int, kind: str) -> None:
    task = asyncio.get_running_loop().create_task(post(job, kind))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _apscheduler(db: Path) -> Any:
    # Imported by name: APScheduler 3 ships no type hints, and SQLAlchemy is an optional extra here.
    jobstores: Any = importlib.import_module("apscheduler.jobstores.sqlalchemy")
    schedulers: Any = importlib.import_module("apscheduler.schedulers.asyncio")
    sqlalchemy: Any = importlib.import_module("sqlalchemy")

    def pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    sqlalchemy.event.listen(engine, "connect", pragmas)
    return schedulers.AsyncIOScheduler(
        jobstores={"default": jobstores.SQLAlchemyJobStore(engine=engine)},
        job_defaults={"misfire_grace_time": 60, "coalesce": False, "max_instances": 1},
        timezone=UTC,
    )


def apscheduler_available() -> bool:
    return importlib.util.find_spec("sqlalchemy") is not None


class BaselineSystem:
    """A baseline's child process, started, killed and restarted by the driver."""

    crash_targets: tuple[str, ...] = ("scheduler",)

    def __init__(self, name: str) -> None:
        self.name = name
        self.workload = Workload()
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir = Path()
        self.discord_url = ""
        self.monitor: ProcMonitor | None = None
        self.starts = 0

    async def start(self, workdir: Path, discord_url: str, monitor: ProcMonitor) -> None:
        self.workdir, self.discord_url, self.monitor = workdir, discord_url, monitor

    def _spawn(self, workload: Workload, resume: bool) -> Path:
        assert self.monitor is not None
        self.starts += 1
        info = self.workdir / f"{self.name}-{self.starts}.json"
        cmd = [
            sys.executable, "-m", "bench.baselines", self.name,
            "--discord", self.discord_url, "--info-file", str(info),
            "--db", str(self.workdir / "apscheduler.sqlite"),
            "--jobs", str(workload.jobs), "--window", str(workload.window),
            "--lead", str(workload.lead), "--offsets", *map(str, workload.offsets),
        ]  # fmt: skip
        if resume:
            cmd.append("--resume")
        with (self.workdir / f"{self.name}-{self.starts}.log").open("wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=os.environ, stdout=log, stderr=subprocess.STDOUT)
        self.monitor.add("scheduler", self.proc.pid)
        return info

    async def _wait_info(self, info: Path, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while not info.exists():
            assert self.proc is not None
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"{self.name} baseline failed; see {self.workdir}/{self.name}-*.log")
            await asyncio.sleep(0.05)
        data: dict[str, Any] = json.loads(info.read_text(encoding="utf-8"))
        return data

    async def schedule(self, workload: Workload) -> Scheduled:
        self.workload = workload
        data = await self._wait_info(self._spawn(workload, resume=False), timeout=600)
        return Scheduled(data["start"], data["end"], data["base"])

    async def kill(self, target: str) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    async def restart(self, target: str) -> None:
        await self._wait_info(self._spawn(self.workload, resume=True), timeout=60)

    async def details(self) -> dict[str, Any]:
        return {}

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    parser.add_argument("system", choices=("asyncio", "apscheduler"))
    parser.add_argument("--discord", required=True, help="the fake Discord's base URL (…/api/v10)")
    parser.add_argument("--info-file", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--lead", type=float, required=True)
    parser.add_argument("--offsets", type=int, nargs="*", required=True)
    parser.add_argument("--resume", action="store_true", help="restart on the existing job store")
    asyncio.run(_child(parser.parse_args()))


if __name__ == "__main__":
    main()
