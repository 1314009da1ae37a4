"""`python worker.py` as a child process the end-to-end tests start, kill -9 and restart.

    async with WorkerProcess(...) as worker:   # started, and polling
        ...
    # stopped (SIGTERM, then kill -9 after 10 s)

Only the process this object started is ever signalled, by its pid.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.temporal import TEST_KEY

REPO = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python worker.py`; subclasses run another of the project's processes the same way."""

    NAME = "worker"
    ARGS: tuple[str, ...] = ("worker.py",)

    def __init__(
        self,
        *,
        temporal_address: str,
        task_queue: str,
        discord_api_base: str,
        log_dir: Path,
        start_timeout: float = 60.0,
    ) -> None:
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_TASK_QUEUE": task_queue,
            "DISCORD_TOKEN": "fake-bot-token",
            "DISCORD_API_BASE": discord_api_base,
            "ENCRYPTION_KEYS": base64.b64encode(TEST_KEY).decode(),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def task_queue(self) -> str:
        return self.env["TEMPORAL_TASK_QUEUE"]

    async def __aenter__(self) -> Self:
        await self.start_and_wait()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Spawn the process (without waiting for it: see `start_and_wait`)."""
        self.starts += 1
        log = open(self.log_dir / f"{self.NAME}-{self.starts}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [sys.executable, *self.ARGS], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    async def start_and_wait(self) -> None:
        """Start (or, after `kill` or `stop`, start again) and wait until ready; a process that
        never gets ready is stopped before the error is raised."""
        self.start()
        try:
            await self.wait_started()
        except BaseException:
            self.stop()
            raise

    def kill(self) -> None:
        """kill -9, as in a crash: no graceful shutdown, no chance to finish a task."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        logs = sorted(self.log_dir.glob(f"{self.NAME}-*.log"))
        return "\n".join(p.read_text(errors="replace") for p in logs)

    def check_running(self) -> None:
        """Raise, with its log, if the process has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.NAME} exited with {self.proc.returncode}:\n{self.log()}")

    async def wait_started(self, timeout: float | None = None) -> None:
        """Wait until the worker says it is polling (it logs that after logging in to Discord).

        Async, because the fake Discord it logs in to may be served by this same event loop.
        """
        current = self.log_dir / f"{self.NAME}-{self.starts}.log"
        end = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while time.monotonic() < end:
            self.check_running()
            if "worker polling" in current.read_text(errors="replace"):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.NAME} did not start:\n{self.log()}")


@asynccontextmanager
async def running(*processes: WorkerProcess) -> AsyncIterator[None]:
    """Start every process at once, wait until each is ready, and stop each on the way out."""
    try:
        for process in processes:
            process.start()
        async with asyncio.TaskGroup() as group:  # the first failure cancels the other waits
            for process in processes:
                group.create_task(process.wait_started())
        yield
    finally:
        for process in reversed(processes):
            process.stop()
