"""`python -m bench.worker_start`: where the time of a `python worker.py` start goes.

    python -m bench.worker_start --runs 5

Starts the dev server (SQLite file) and the bench's fake Discord once, then, `--runs` times each,
on a fresh task queue:

- instrumented: `python -m bench.worker_start --child`, which imports worker.py (timed), then runs
  worker.py's own `__main__` block (runpy) with `stack.temporal.connect` wrapped to note when the
  connection is made, and notes the worker's "logged in to Discord" and "worker polling" lines;
- plain: `python worker.py` exactly as the bench and the end-to-end tests run it
  (`WorkerProcess`), to check the instrumented start is the same start.

For both, this process watches the task queue (describe, every 20 ms) for the first poller the
server sees. Each worker is then stopped with SIGTERM. Prints each phase's p50 / min / max over
the runs, in ms from the spawn, and writes them as JSON under bench/results/.
"""

from __future__ import annotations

import time

_STARTED = time.time()  # first thing the child does: the interpreter is up

import argparse  # noqa: E402 (after the clock, so the interpreter's start is measured alone)
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import runpy  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

PHASES = (
    "interpreter",
    "imports",
    "connect_begin",
    "connected",
    "build_id_begin",
    "build_id_done",
    "polling_logged",
    "discord_ready",
)
SERVER_SEEN = "first_poll_at_server"


def _child(out: Path) -> None:
    """Run worker.py's `__main__`, appending `phase epoch` lines to `out` as they happen."""
    marks = out.open("a", encoding="utf-8")

    def mark(phase: str, at: float | None = None) -> None:
        marks.write(f"{phase} {at if at is not None else time.time()}\n")
        marks.flush()

    mark("interpreter", _STARTED)
    import worker  # noqa: F401 (what `python worker.py` imports before main runs)

    mark("imports")
    import stack.temporal

    connect = stack.temporal.connect

    async def timed_connect(*args: Any, **kwargs: Any) -> Any:
        mark("connect_begin")
        client = await connect(*args, **kwargs)
        mark("connected")
        return client

    stack.temporal.connect = timed_connect

    # The SDK's default build id hashes the code of every loaded module (temporalio/worker/_worker.py).
    import temporalio.worker._worker as sdk_worker

    default_build_id = sdk_worker.load_default_build_id

    def timed_build_id(*args: Any, **kwargs: Any) -> str:
        mark("build_id_begin")
        build_id = default_build_id(*args, **kwargs)
        mark("build_id_done")
        return build_id

    sdk_worker.load_default_build_id = timed_build_id

    class Marks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if text.startswith("logged in to Discord"):
                mark("discord_ready", record.created)
            elif text.startswith("worker polling"):
                mark("polling_logged", record.created)

    for name in ("worker", "activities.discord_rest"):
        logging.getLogger(name).addHandler(Marks())
    worker_py = Path(__file__).resolve().parents[1] / "worker.py"
    runpy.run_path(str(worker_py), run_name="__main__")  # ends in os._exit, as the worker does


async def _first_poll(client: Any, queue: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}")
        if (await client.workflow_service.describe_task_queue(request)).pollers:
            return time.time()
        await asyncio.sleep(0.02)
    raise TimeoutError("no poller seen")


async def _one(
    server: Any, client: Any, fake_url: str, workdir: Path, instrumented: bool, pycache: Path | None
) -> dict[str, float]:
    from tests.support.worker_process import WorkerProcess

    queue = f"start-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        temporal_address=server.address, task_queue=queue, discord_api_base=fake_url, log_dir=workdir
    )
    if pycache is not None:  # as in the image, whose packages are compiled at install
        worker.env.pop("PYTHONDONTWRITEBYTECODE", None)
        worker.env["PYTHONPYCACHEPREFIX"] = str(pycache)
    marks = workdir / f"marks-{queue}.txt"
    if instrumented:
        worker.NAME = f"child-{queue}"
        worker.ARGS = ("-m", "bench.worker_start", "--child", "--out", str(marks))
    spawn = time.time()
    worker.start()
    assert worker.proc is not None
    try:
        seen = await _first_poll(client, queue, worker.proc, timeout=60)
        await worker.wait_started(timeout=60)
        if instrumented:  # the login runs in the background: it may end after the first poll
            end = time.monotonic() + 30
            while "discord_ready" not in marks.read_text() and time.monotonic() < end:
                await asyncio.sleep(0.02)
    finally:
        worker.stop()
    phases = {SERVER_SEEN: seen - spawn}
    if instrumented:
        for line in marks.read_text().splitlines():
            name, at = line.split()
            phases[name] = float(at) - spawn
    return phases


def _summary(runs: list[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    from bench.measure import percentile

    out = {}
    for phase in (*PHASES, SERVER_SEEN):
        values = [r[phase] * 1000 for r in runs if phase in r]
        if values:
            out[phase] = (percentile(values, 50), min(values), max(values))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    from bench.fake import FakeProcess
    from stack.devserver import DevServer, free_port
    from tests.support.temporal import connect_client

    workdir = Path(tempfile.mkdtemp(prefix="bench-worker-start-"))
    fake = FakeProcess(workdir)
    results: dict[str, list[dict[str, float]]] = {"instrumented": [], "plain": []}
    async with DevServer(db_file=workdir / "temporal.sqlite", port=free_port(), headless=True) as server:
        remote = await fake.start()
        try:
            client = await connect_client(server)
            pycache = workdir / "pycache" if args.compiled else None
            if pycache is not None:  # one start of each kind writes the bytecode
                for instrumented in (True, False):
                    await _one(server, client, remote.base_url, workdir, instrumented, pycache)
            busy, began = _machine_busy(), time.time()
            for n in range(args.runs):
                for kind in ("instrumented", "plain"):  # alternating, so drift hits both alike
                    instrumented = kind == "instrumented"
                    phases = await _one(server, client, remote.base_url, workdir, instrumented, pycache)
                    results[kind].append(phases)
                    shown = ", ".join(f"{k} {v * 1000:.0f}" for k, v in phases.items())
                    print(f"run {n + 1} {kind}: {shown} (ms from spawn)", flush=True)
            machine = {"busy_cpu_s": _machine_busy() - busy, "of_cpu_s": (time.time() - began) * _cores()}
        finally:
            await remote.close()
            fake.stop()
    summary = {kind: _summary(runs) for kind, runs in results.items()}
    return summary | {"machine": machine, "runs": results}


def _cores() -> int:
    import psutil  # type: ignore[import-untyped,unused-ignore]

    return int(psutil.cpu_count() or 1)


def _machine_busy() -> float:
    from bench.measure import _machine_busy as busy

    return busy()


def _print(summary: dict[str, Any], show: Callable[[str], None] = print) -> None:
    for kind in ("instrumented", "plain"):
        show(f"{kind} (ms from spawn: p50 / min / max)")
        for phase, (p50, low, high) in summary[kind].items():
            show(f"  {phase:<22} {p50:7.0f} / {low:7.0f} / {high:7.0f}")
    machine = summary["machine"]
    busy, total = machine["busy_cpu_s"], machine["of_cpu_s"]
    show(f"machine CPU busy over the runs (ours included): {busy:.0f} s of {total:.0f}")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.worker_start", description=__doc__)
    p.add_argument("--runs", type=int, default=5, help="starts of each kind (5)")
    p.add_argument(
        "--compiled",
        action="store_true",
        help="workers read and write bytecode (PYTHONPYCACHEPREFIX), as the image's compiled packages",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        assert args.out is not None
        _child(args.out)
        return
    summary = asyncio.run(run(args))
    _print(summary)
    from bench.report import RESULTS

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"worker-start-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps({"argv": sys.argv, **summary}, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
