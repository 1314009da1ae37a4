"""How many writes per second one PersistentStore takes on the dev server.

    .venv/bin/python -m bench.store_writes [--writes 2000] [--concurrency 1,8,32] [--db sqlite]

Starts its own dev server (headless; a SQLite file in a temporary directory with the stack's
pragmas, or in memory) and an in-process worker hosting only the store workflow, then times
`store.set` (one update each, acknowledged once recorded) from C concurrent writers against a
single store, with the encryption codec on as in production. The store continues as new every
500 writes during the run, as it would in use. Also times `store.get` (a query).
Prints one line per concurrency level; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client

from clients.store import PersistentStore
from stack.devserver import DevServer, free_port
from stack.temporal import data_converter
from worker import build_worker
from workflows.store import StoreWorkflow

KEY = bytes(range(32))
KEYS = 200  # writes cycle over this many keys, so the store stays far from its limits


async def _writers(store: PersistentStore, writes: int, concurrency: int, value: str) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(writes))

    async def writer() -> None:
        for i in counter:
            start = time.perf_counter()
            await store.set(f"k{i % KEYS}", {"i": i, "v": value})
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(writer() for _ in range(concurrency)))
    return latencies


async def _readers(store: PersistentStore, reads: int, concurrency: int) -> float:
    counter = iter(range(reads))

    async def reader() -> None:
        for i in counter:
            await store.get(f"k{i % KEYS}")

    start = time.perf_counter()
    await asyncio.gather(*(reader() for _ in range(concurrency)))
    return reads / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    levels = [int(c) for c in args.concurrency.split(",")]
    PersistentStore.max_in_flight = args.in_flight
    value = "x" * max(0, args.value_bytes - 20)
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite" if args.db == "sqlite" else None
        async with DevServer(db_file=db, port=free_port(), headless=True) as server:
            client = await Client.connect(server.address, data_converter=data_converter([KEY]))
            queue = f"store-bench-{uuid.uuid4().hex[:8]}"
            # As `python worker.py` runs it (no sandbox), unless --sandboxed.
            async with build_worker(client, queue, [], workflows=[StoreWorkflow], sandboxed=args.sandboxed):
                print(f"dev server ({args.db}), in-process worker, {args.writes} writes per level, "
                      f"~{args.value_bytes} B values, at most {args.in_flight} writes in flight, "
                      f"{'sandboxed' if args.sandboxed else 'unsandboxed'} workflows")  # fmt: skip
                for concurrency in levels:
                    store = await PersistentStore.create(client, f"bench-{uuid.uuid4().hex[:8]}", queue)
                    await store.set("warm-up", 0)
                    start = time.perf_counter()
                    latencies = await _writers(store, args.writes, concurrency, value)
                    elapsed = time.perf_counter() - start
                    reads = await _readers(store, args.writes, concurrency)
                    assert await store.size() == min(KEYS, args.writes) + 1
                    print(
                        f"concurrency {concurrency:3}: {args.writes / elapsed:7.1f} writes/s  "
                        f"p50 {statistics.median(latencies) * 1000:6.1f} ms  "
                        f"p99 {_pct(latencies, 0.99) * 1000:6.1f} ms  |  {reads:7.1f} reads/s"
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.store_writes", description=__doc__)
    parser.add_argument("--writes", type=int, default=2000, help="writes per concurrency level (2000)")
    parser.add_argument("--concurrency", default="1,8,32", help="writers in flight, comma-separated (1,8,32)")
    parser.add_argument(
        "--db", choices=("sqlite", "memory"), default="sqlite", help="dev server store (sqlite)"
    )
    parser.add_argument(
        "--in-flight", type=int, default=PersistentStore.max_in_flight, help="writes in flight per store"
    )
    parser.add_argument("--sandboxed", action="store_true", help="run the workflow in the SDK's sandbox")
    parser.add_argument("--value-bytes", type=int, default=100, help="approximate JSON size of a value (100)")
    asyncio.run(main(parser.parse_args()))
