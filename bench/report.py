"""The side-by-side table and the JSON file under bench/results/."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]

from bench.calls import CALLS, PHASES
from bench.measure import FireStats
from bench.run import Result, system_role

_CORES = psutil.cpu_count() or 1
RESULTS = Path(__file__).resolve().parent / "results"


def _s(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


def _rows(results: Sequence[Result]) -> list[tuple[str, list[str]]]:
    def stat(name: str, get: Any) -> tuple[str, list[str]]:
        return name, [get(r) for r in results]

    def mib(r: Result, role: str) -> str:
        return f"{r.peak_rss[role] / 2**20:.0f} MiB" if role in r.peak_rss else "-"

    def cpu(r: Result, role: str) -> str:
        return f"{r.cpu[role]:.1f} s" if role in r.cpu else "-"

    rows = [
        stat("jobs / fires", lambda r: f"{r.jobs} / {r.fires}"),
        stat("schedule throughput", lambda r: f"{r.schedule_rate:.0f} jobs/s ({r.schedule_seconds:.1f} s)"),
        stat("lateness p50", lambda r: _s(r.stats.p50)),
        stat("lateness p99", lambda r: _s(r.stats.p99)),
        stat("lateness max", lambda r: _s(r.stats.max)),
        stat("lost fires", lambda r: str(r.stats.lost)),
        stat("deadlines posted", lambda r: _posted(r.deadline_stats)),
        stat("deadline p50 / p99 / max", lambda r: _spread(r.deadline_stats)),
        stat("doubled fires", lambda r: str(r.stats.doubled)),
        stat("extra POSTs (nonce)", lambda r: str(r.stats.extra_requests)),
        stat(
            "CPU worker/scheduler", lambda r: cpu(r, "worker") if "worker" in r.cpu else cpu(r, "scheduler")
        ),
        *([stat("CPU workers 2.. (replicas)", lambda r: _replicas(r, cpu))] if _more(results) else []),
        stat("CPU server", lambda r: cpu(r, "server")),
        stat("CPU-ms per fire", lambda r: f"{r.cpu_ms_per_fire:.1f}"),
        stat(
            "peak RSS worker/sched",
            lambda r: mib(r, "worker") if "worker" in r.peak_rss else mib(r, "scheduler"),
        ),
        *([stat("peak RSS workers 2..", lambda r: _replicas(r, mib))] if _more(results) else []),
        stat("peak RSS server", lambda r: mib(r, "server")),
        stat("CPU fake Discord / bench", lambda r: f"{cpu(r, 'fake')} / {cpu(r, 'bench')}"),
        stat("CPU others on machine", lambda r: f"{r.others_cpu:.0f} s of {r.window_seconds * _CORES:.0f}"),
    ]
    if any(r.overlap > 0 for r in results):
        rows.append(stat("scheduling overlapped fires", lambda r: _s(r.overlap)))
    if any(r.outage_stats for r in results):
        rows += _outage_rows(results)
    if any(r.small_guild_stats for r in results):
        rows += _small_guild_rows(results)
    if any("outage_fires_sampled" in r.details for r in results):
        rows += _cause_rows(results)
    if any("history_events_per_job" in r.details for r in results):
        rows.append(stat("history events / job", lambda r: _detail(r, "history_events_per_job")))
        rows.append(stat("workflow tasks / job", lambda r: _detail(r, "workflow_tasks_per_job")))
        for phase in ("timer_set_late", "timer_fire_late", "task_dispatch", "task_run"):
            rows.append(stat(f"{phase} p50/p99", lambda r, p=phase: _phase(r, p)))
    return rows


def _extra_workers(r: Result) -> list[str]:
    """Roles of worker replicas beyond the first (worker2, worker3, ...), in order."""
    extra = [k for k in r.cpu if k.startswith("worker") and k != "worker" and system_role(k)]
    return sorted(extra, key=lambda k: int(k.removeprefix("worker")))


def _more(results: Sequence[Result]) -> bool:
    return any(_extra_workers(r) for r in results)


def _replicas(r: Result, show: Any) -> str:
    return " / ".join(show(r, k) for k in _extra_workers(r)) or "-"


def _outage_rows(results: Sequence[Result]) -> list[tuple[str, list[str]]]:
    def o(get: Any) -> list[str]:
        return [get(r.outage_stats, r) if r.outage_stats else "-" for r in results]

    def down(_: FireStats, r: Result) -> str:
        return f"{r.crash}: {r.outage['back_at'] - r.outage['killed_at']:.1f} s"

    return [
        ("outage (kill -9 .. back)", o(down)),
        ("fires due in outage", o(lambda s, r: str(s.expected))),
        ("outage lateness p50", o(lambda s, r: _s(s.p50))),
        ("outage lateness p99", o(lambda s, r: _s(s.p99))),
        ("outage lateness max", o(lambda s, r: _s(s.max))),
        ("outage lost / doubled", o(lambda s, r: f"{s.lost} / {s.doubled}")),
    ]


def _posted(stats: FireStats | None) -> str:
    return f"{stats.recorded} of {stats.expected}, {stats.doubled} doubled" if stats else "-"


def _spread(stats: FireStats | None) -> str:
    return f"{_s(stats.p50)} / {_s(stats.p99)} / {_s(stats.max)}" if stats else "-"


def _small_guild_rows(results: Sequence[Result]) -> list[tuple[str, list[str]]]:
    def o(get: Any, name: str = "small_guild_stats") -> list[str]:
        return [get(getattr(r, name)) if getattr(r, name) else "-" for r in results]

    rows = [
        ("small guild jobs", [str(r.small_guild_jobs) for r in results]),
        ("small guild deadlines posted", o(lambda s: f"{s.recorded} of {s.expected}")),
        ("small guild deadline p50", o(lambda s: _s(s.p50))),
        ("small guild deadline p99", o(lambda s: _s(s.p99))),
        ("small guild deadline max", o(lambda s: _s(s.max))),
        ("small guild all fires p99/max", o(lambda s: f"{_s(s.p99)} / {_s(s.max)}", "small_guild_all_stats")),
        ("small guild lost / doubled", o(lambda s: f"{s.lost} / {s.doubled}", "small_guild_all_stats")),
    ]
    for phase in ("timer_fire_late", "task_dispatch", "task_timed_out", "task_run"):
        rows.append((f"small guild {phase}", [_phase(r, phase, "small_guild_") for r in results]))
    return rows


def calls_table(result: Result) -> str:
    """bot calls p50 / p99 (ms): a row per Jobs call, a column per phase the prober saw."""
    phases = [p for p in PHASES if any(p in result.calls.get(c, {}) for c in CALLS)]
    rows = [("bot calls p50 / p99 (ms)", phases)]
    for call in CALLS:
        cells = []
        for phase in phases:
            cell = result.calls.get(call, {}).get(phase)
            if cell is None:
                cells.append("-")
                continue
            text = f"{_ms(cell['p50'])} / {_ms(cell['p99'])} (n={cell['n']})"
            cells.append(text + (f" {cell['errors']} err" if cell["errors"] else ""))
        rows.append((call, cells))
    return _grid(rows)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:.0f}"


def _cause_rows(results: Sequence[Result]) -> list[tuple[str, list[str]]]:
    """The sampled outage fires (bench/outage_phases.py) by what their task waited for."""

    def cell(r: Result, cause: str) -> str:
        d = r.details.get("outage_fires_sampled", {})
        late = d.get("task_done_late_p50_p99_max_s", {}).get(cause)
        n = d.get("fires", {}).get(cause, 0)
        return f"{n}: {_s(late[0])} / {_s(late[1])}" if late else str(n)

    return [
        (f"outage {cause} (n: p50/p99)", [cell(r, cause) for r in results])
        for cause in ("direct", "sticky_timeout", "task_timeout")
    ]


def _detail(r: Result, key: str) -> str:
    value = r.details.get(key)
    return f"{value:.1f}" if isinstance(value, float) else "-"


def _phase(r: Result, phase: str, prefix: str = "") -> str:
    values = r.details.get(f"{prefix}fire_phases_p50_p99_s", {}).get(phase)
    return f"{_s(values[0])} / {_s(values[1])}" if values else "-"


def table(results: Sequence[Result]) -> str:
    return _grid(
        [("", [r.system + (f" (crash {r.crash})" if r.crash else "") for r in results]), *_rows(results)]
    )


def _grid(rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    widths = [max(len(name) for name, _ in rows)]
    for i in range(len(rows[0][1])):
        widths.append(max(len(cells[i]) for _, cells in rows))
    lines = []
    for n, (name, cells) in enumerate(rows):
        lines.append(
            "| "
            + " | ".join(
                [name.ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells, widths[1:], strict=True))]
            )
            + " |"
        )
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def save(results: Sequence[Result], argv: Sequence[str]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench-{stamp}.json"
    data = {
        "argv": list(argv),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "results": [r.as_dict() for r in results],
    }
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path
