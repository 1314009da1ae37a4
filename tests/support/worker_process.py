"""`python worker.py` as a child process the end-to-end tests start, kill -9 and restart."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.temporal import TEST_KEY

REPO = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python worker.py`; subclasses run another of the project's processes the same way."""

    NAME = "worker"
    ARGS: tuple[str, ...] = ("worker.py",)

    def __init__(
        self, *, temporal_address: str, task_queue: str, discord_api_base: str, log_dir: Path
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
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_dir / f"{self.NAME}-{self.starts}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [sys.executable, *self.ARGS], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

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

    async def wait_started(self, timeout: float = 20.0) -> None:
        """Wait until the worker says it is polling (it logs that after logging in to Discord).

        Async, because the fake Discord it logs in to may be served by this same event loop.
        """
        current = self.log_dir / f"{self.NAME}-{self.starts}.log"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if "worker polling" in current.read_text(errors="replace"):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"worker did not start:\n{self.log()}")
