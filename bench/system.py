"""What every system under test provides to the driver (bench/run.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.measure import ProcMonitor
from bench.workload import Workload


@dataclass(frozen=True)
class Scheduled:
    start: float  # epoch seconds
    end: float
    base: float  # the first deadline; the workload's fires follow from it


class System(Protocol):
    name: str
    # What a crash can hit: "scheduler" (worker / scheduler process), "server" (Temporal only).
    crash_targets: tuple[str, ...]

    async def start(self, workdir: Path, discord_url: str, monitor: ProcMonitor) -> None: ...

    async def schedule(self, workload: Workload) -> Scheduled: ...

    async def kill(self, target: str) -> None: ...

    async def restart(self, target: str) -> None: ...

    async def details(self) -> dict[str, Any]: ...

    async def stop(self) -> None: ...
