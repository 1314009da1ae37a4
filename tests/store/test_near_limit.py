"""A store nearing its limit is reported before it refuses anything: the store workflow counts
`store_near_limit{store}` once when a write takes it past 80% of its keys or bytes."""

from __future__ import annotations

import re

import aiohttp
from temporalio.testing import WorkflowEnvironment

from clients.store import PersistentStore
from stack.devserver import free_port
from stack.telemetry import metrics_runtime
from stack.temporal import data_converter
from tests.support.temporal import TEST_KEY, binary, eventually
from worker import build_worker
from workflows.store import StoreWorkflow
from workflows.store_models import StoreLimits

QUEUE = "store-near-limit"


async def near_limit_count(port: int, store: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    found = re.search(rf'^store_near_limit(?:_total)?{{[^}}]*store="{store}"[^}}]*}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_store_past_80_percent_of_a_limit_is_counted_once() -> None:
    port = free_port()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter([TEST_KEY]),
        test_server_existing_path=binary("temporal-test-server"),
        runtime=metrics_runtime("127.0.0.1", port),
    )
    try:
        async with build_worker(env.client, QUEUE, [], workflows=[StoreWorkflow]):
            store = await PersistentStore.create(
                env.client, "nearly-full", QUEUE, limits=StoreLimits(max_keys=10)
            )
            for n in range(7):
                await store.set(f"k{n}", n)
            assert await near_limit_count(port, "nearly-full") == 0

            await store.set("k7", 7)  # 8 of 10 keys

            async def counted() -> bool:
                return await near_limit_count(port, "nearly-full") == 1

            await eventually(counted)
            await store.set("k8", 8)
            await store.delete("k0")
            assert await near_limit_count(port, "nearly-full") == 1  # once per crossing, not per write
    finally:
        await env.shutdown()
