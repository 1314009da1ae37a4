"""Lateness, lost and doubled fires, and CPU/RSS of the processes under test."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]

from bench.fake import Observed
from bench.workload import Fire


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class FireStats:
    expected: int
    recorded: int
    lost: int
    doubled: int  # fires posted more than once (extra messages)
    extra_requests: int  # POST attempts beyond one per fire (retries the nonce absorbed, or doubles)
    p50: float
    p99: float
    max: float
    early: int  # posts before their due time (clock or measurement error)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def fire_stats(fires: Iterable[Fire], observed: Observed) -> FireStats:
    wanted = {f.key: f.due for f in fires}
    first: dict[tuple[int, str], float] = {}
    counts: Counter[tuple[int, str]] = Counter()
    for post in observed.posts:
        key = (post.job, post.kind)
        if key not in wanted:
            continue
        counts[key] += 1
        first[key] = min(first.get(key, math.inf), post.at)
    late = [first[k] - due for k, due in wanted.items() if k in first]
    requests = sum(n for k, n in observed.requests.items() if k in wanted)
    return FireStats(
        expected=len(wanted),
        recorded=len(first),
        lost=len(wanted) - len(first),
        doubled=sum(1 for n in counts.values() if n > 1),
        extra_requests=max(0, requests - len(first)),
        p50=percentile(late, 50),
        p99=percentile(late, 99),
        max=max(late, default=math.nan),
        early=sum(1 for x in late if x < -0.002),
    )


@dataclass
class _Tracked:
    role: str
    proc: psutil.Process
    base: float  # CPU seconds at the start of the measured interval
    last: float = 0.0


@dataclass
class ProcMonitor:
    """Samples CPU (user+system, the process's own counters) and RSS of the processes under test.

    CPU is counted from `mark()` (or from a process's start if it appears later, e.g. a restart)
    to its last sample; sampling every `interval` keeps what a kill -9 hides to one interval.
    """

    interval: float = 0.25
    cpu: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    _tracked: list[_Tracked] = field(default_factory=list)
    _marked: bool = False
    _machine: list[float] = field(default_factory=list)  # machine-wide busy CPU-s at mark and stop
    _task: asyncio.Task[None] | None = None

    def add(self, role: str, pid: int) -> None:
        proc = psutil.Process(pid)
        self.cpu.setdefault(role, 0.0)
        self.peak_rss.setdefault(role, 0)
        # A process that appears after mark() (a restart) counts from its start, start-up included.
        base = 0.0 if self._marked else self._cpu_of(proc)
        self._tracked.append(_Tracked(role, proc, base, base))

    def mark(self) -> None:
        """Start of the measured interval: CPU before this point is not counted."""
        self._sample()
        for t in self._tracked:
            t.base = t.last
        self._marked = True
        self._machine = [_machine_busy()]

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._sample()
        if len(self._machine) == 1:
            self._machine.append(_machine_busy())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def cpu_seconds(self) -> dict[str, float]:
        out = dict.fromkeys(self.cpu, 0.0)
        for t in self._tracked:
            out[t.role] += max(0.0, t.last - t.base) if self._marked else 0.0
        return out

    def others_cpu_seconds(self) -> float:
        """CPU the rest of the machine used over the interval: other people's work competing with ours."""
        if len(self._machine) < 2:
            return math.nan
        return max(0.0, self._machine[1] - self._machine[0] - sum(self.cpu_seconds().values()))

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval)

    def _sample(self) -> None:
        for t in self._tracked:
            with contextlib.suppress(psutil.Error):
                t.last = self._cpu_of(t.proc)
                self.peak_rss[t.role] = max(self.peak_rss[t.role], _rss(t.proc))

    @staticmethod
    def _cpu_of(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        # The process's own counters only: the bench process's children are roles of their own.
        return float(times.user + times.system)


def _machine_busy() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def now() -> float:
    return time.time()


async def sleep_until(epoch: float) -> None:
    delay = epoch - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
