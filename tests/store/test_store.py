"""PersistentStore on Temporal: the store workflow on the real dev server (updates and queries
as the bot and the worker use them), kill -9 of the worker and of the server, continue-as-new,
and the limits. Time matters only for the last test, on the time-skipping server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from bot.replies import user_message
from clients.store import (
    PersistentStore,
    StoreError,
    StoreInputError,
    StoreLimitError,
    VersionConflict,
    Versioned,
)
from local_discord import FakeDiscord
from stack.devserver import DevServer, free_port
from stack.temporal import data_converter
from tests.support.temporal import TEST_KEY, connect_client, eventually
from tests.support.worker_process import WorkerProcess
from worker import build_worker
from workflows.common import UserError
from workflows.store import StoreWorkflow
from workflows.store_models import (
    LIMIT_ERROR,
    MAX_KEYS,
    MAX_TOTAL_BYTES,
    MAX_VALUE_BYTES,
    Entry,
    SetRequest,
    StoreInput,
    StoreLimits,
    TransactOp,
    json_size,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TASK_QUEUE = f"store-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker(client: Client) -> AsyncIterator[Worker]:
    async with build_worker(client, TASK_QUEUE, [], workflows=[StoreWorkflow]) as running:
        yield running


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def accepted_updates(client: Client, workflow_id: str) -> int:
    """Updates recorded in the current run's history (a refused one leaves no event)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for event in history.events
    )


# --- the API --------------------------------------------------------------------------------


async def test_the_seed_api_with_versions(client: Client, worker: Worker) -> None:
    store = await PersistentStore.create(client, unique("api"), TASK_QUEUE)
    assert await PersistentStore.create(client, store.name, TASK_QUEUE) is store  # one per name

    assert await store.get("missing") is None
    assert await store.get("missing", "fallback") == "fallback"
    assert not await store.has("missing")
    assert await store.size() == 0

    v1 = await store.set("w-1", {"to": 42, "text": "psst"})
    v2 = await store.set("w-2", [1, 2.5, None, True, "ü"])
    v3 = await store.set("w-1", {"to": 42, "text": "changed"})  # keeps its place
    assert 0 < v1 < v2 < v3
    assert await store.get("w-1") == {"to": 42, "text": "changed"}
    assert await store.get_versioned("w-1") == Versioned({"to": 42, "text": "changed"}, v3)
    assert await store.has("w-2")
    assert await store.keys() == ["w-1", "w-2"]
    assert await store.values() == [{"to": 42, "text": "changed"}, [1, 2.5, None, True, "ü"]]
    assert await store.entries() == [
        ("w-1", {"to": 42, "text": "changed"}),
        ("w-2", [1, 2.5, None, True, "ü"]),
    ]
    assert await store.keys(prefix="w-2") == ["w-2"]
    assert await store.size() == 2

    assert await store.delete("w-1") is True
    assert await store.delete("w-1") is False
    assert not await store.has("w-1")
    assert await store.version("w-1") == 0
    # A delete then set continues the count: the old version can never match again.
    v4 = await store.set("w-1", "back")
    assert v4 > v3
    with pytest.raises(VersionConflict):
        await store.compare_and_set("w-1", v3, "stale")
    usage = await store.usage()
    assert usage.keys == 2
    assert usage.bytes == sum(len(k) + json_size(v) for k, v in await store.entries())

    # compare_and_set with 0 writes only an absent key.
    assert await store.compare_and_set("new", 0, 1) > v4
    with pytest.raises(VersionConflict, match="'new' is at version"):
        await store.compare_and_set("new", 0, 2)
    assert await store.get("new") == 1

    desc = await client.get_workflow_handle(store.workflow_id).describe()
    assert await desc.static_summary() == f"store {store.name}"
    metadata = await client.get_workflow_handle(store.workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    assert metadata.current_details.startswith("**3** keys of 10,000, **")


async def test_two_processes_see_each_others_writes_at_once(
    server: DevServer, client: Client, worker: Worker
) -> None:
    name = unique("shared")
    other = await connect_client(server)  # the bot's connection; `client` is the worker's
    bot_side = await PersistentStore.create(other, name, TASK_QUEUE)
    worker_side = await PersistentStore.create(client, name, TASK_QUEUE)
    assert bot_side is not worker_side

    for i in range(10):
        await bot_side.set("turn", i)
        assert await worker_side.get("turn") == i
        await worker_side.set("echo", i)
        assert await bot_side.get("echo") == i


async def test_concurrent_compare_and_set_exactly_one_wins(
    server: DevServer, client: Client, worker: Worker
) -> None:
    name = unique("cas")
    a = await PersistentStore.create(client, name, TASK_QUEUE)
    b = await PersistentStore.create(await connect_client(server), name, TASK_QUEUE)

    # Ten times: both read the same version, both try to write on it at the same moment.
    await a.set("pot", 0)
    for round_number in range(10):
        current = await a.get_versioned("pot")
        assert current is not None
        outcomes = await asyncio.gather(
            a.compare_and_set("pot", current.version, f"a{round_number}"),
            b.compare_and_set("pot", current.version, f"b{round_number}"),
            return_exceptions=True,
        )
        wins = [o for o in outcomes if isinstance(o, int)]
        losses = [o for o in outcomes if isinstance(o, VersionConflict)]
        assert len(wins) == 1 and len(losses) == 1, outcomes
        assert losses[0].current_version == wins[0] and losses[0].expected_version == current.version
        winner = "a" if isinstance(outcomes[0], int) else "b"
        assert await b.get("pot") == f"{winner}{round_number}"

    # "Only if absent" from eight writers at once: one creates the key.
    claims = await asyncio.gather(
        *(s.compare_and_set("claim", 0, i) for i, s in enumerate([a, b] * 4)), return_exceptions=True
    )
    assert sum(isinstance(c, int) for c in claims) == 1
    assert sum(isinstance(c, VersionConflict) for c in claims) == 7

    # modify() retries on conflict: 2 x 15 concurrent increments lose nothing.
    def inc(value: object) -> int:
        return (value if isinstance(value, int) else 0) + 1

    await asyncio.gather(*(s.modify("counter", inc) for s in [a, b] * 15))
    assert await a.get("counter") == 30


async def test_more_writers_than_the_server_admits_all_land(
    server: DevServer, client: Client, worker: Worker
) -> None:
    """The server refuses an 11th update in flight on one workflow, and aborts those caught by a
    continue-as-new; three processes' worth of writers at once (8 in flight each) lose nothing."""
    name = unique("busy")
    stores = [await PersistentStore.create(c, name, TASK_QUEUE, continue_after_updates=60) for c in (
        client, await connect_client(server), await connect_client(server)
    )]  # fmt: skip

    async def writer(store: PersistentStore, w: int) -> list[tuple[str, int]]:
        return [(f"w{w}-{i}", await store.set(f"w{w}-{i}", i)) for i in range(8)]

    written = await asyncio.gather(*(writer(stores[w % 3], w) for w in range(36)))
    acked = dict(pair for pairs in written for pair in pairs)
    snapshot = await stores[0].snapshot()
    assert {k: e.version for k, e in snapshot.entries.items()} == acked
    assert sorted(acked.values()) == list(range(1, 36 * 8 + 1))  # each write recorded once


async def test_a_closed_store_is_not_silently_replaced_by_an_empty_one(
    server: DevServer, client: Client, worker: Worker
) -> None:
    store = await PersistentStore.create(client, unique("closed"), TASK_QUEUE)
    await store.set("kept", 1)
    await client.get_workflow_handle(store.workflow_id).terminate(reason="by mistake")

    with pytest.raises(StoreError, match="is not running"):
        await store.set("lost", 2)
    with pytest.raises(
        StoreError, match=r"was closed .* `temporal workflow reset --workflow-id store-closed-"
    ):
        await PersistentStore.create(await connect_client(server), store.name, TASK_QUEUE)
    with pytest.raises(StoreError, match="a store name is"):
        await PersistentStore.create(client, "has spaces", TASK_QUEUE)


# --- continue-as-new ------------------------------------------------------------------------


async def test_continue_as_new_keeps_every_key(client: Client, worker: Worker) -> None:
    store = await PersistentStore.create(client, unique("can"), TASK_QUEUE, continue_after_updates=5)
    handle = client.get_workflow_handle(store.workflow_id)
    first_run = (await handle.describe()).run_id

    versions = {f"k{i}": await store.set(f"k{i}", {"i": i}) for i in range(12)}
    # And a burst while runs hand over: every acknowledged write must be in the last run.
    burst = await asyncio.gather(*(store.set(f"b{i}", i) for i in range(40)))
    versions.update({f"b{i}": v for i, v in enumerate(burst)})
    await store.delete("k0")
    del versions["k0"]

    desc = await handle.describe()
    assert desc.run_id != first_run
    assert desc.status == WorkflowExecutionStatus.RUNNING
    snapshot = await store.snapshot()
    assert {k: e.version for k, e in snapshot.entries.items()} == versions
    assert [snapshot.entries[f"k{i}"].value for i in range(1, 12)] == [{"i": i} for i in range(1, 12)]
    assert [snapshot.entries[f"b{i}"].value for i in range(40)] == list(range(40))
    assert snapshot.revision == 12 + 40 + 1  # every write advanced the revision once

    # The first run ended by continuing as new, after the writes it acknowledged...
    history = await client.get_workflow_handle(store.workflow_id, run_id=first_run).fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    # ...and replays deterministically, in the sandbox the production worker uses.
    replayer = Replayer(workflows=[StoreWorkflow], data_converter=client.data_converter)
    await replayer.replay_workflow(history)
    assert (await client.get_workflow_handle(store.workflow_id, run_id=first_run).describe()).status == (
        WorkflowExecutionStatus.CONTINUED_AS_NEW
    )


class FirstWriteToRun(Interceptor):
    """Sends the first write to the run `run_id`: what the server does to a write that reaches a
    run the moment it continues as new (the time-skipping server looks the newest run up, then
    finds it ended)."""

    def __init__(self) -> None:
        self.run_id: str | None = None

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        outer = self

        class Redirect(OutboundInterceptor):
            async def start_workflow_update(
                self, input: StartWorkflowUpdateInput
            ) -> WorkflowUpdateHandle[Any]:
                if outer.run_id is not None:
                    input.run_id, outer.run_id = outer.run_id, None
                return await super().start_workflow_update(input)

        return Redirect(next)


async def test_a_write_caught_by_a_continue_as_new_lands_in_the_run_after(
    server: DevServer, client: Client, worker: Worker
) -> None:
    """Before, the store was reported "not running" and the write lost (a Custom Actions run failed
    so in CI): the server answers "not found" for a run that has just continued as new."""
    redirect = FirstWriteToRun()
    caught = await Client.connect(
        server.address, data_converter=data_converter([TEST_KEY]), interceptors=[redirect]
    )
    store = await PersistentStore.create(caught, unique("caught"), TASK_QUEUE, continue_after_updates=1)
    handle = client.get_workflow_handle(store.workflow_id)
    ended = (await handle.describe()).run_id
    await store.set("first", 1)
    await eventually(lambda: run_changed(handle, ended))

    redirect.run_id = ended
    assert await store.set("second", 2) == 2  # the second write, recorded once
    assert redirect.run_id is None  # the write did reach the ended run first
    assert {k: e.value for k, e in (await store.snapshot()).entries.items()} == {"first": 1, "second": 2}

    # A store that is over is still told as over, not waited for; and a new workflow started
    # under its id is not sent what was meant for the old one.
    await handle.terminate(reason="the test")
    with pytest.raises(StoreError, match="is not running"):
        await store.set("third", 3)
    over = (await handle.describe()).run_id
    await client.start_workflow(
        StoreWorkflow.run, StoreInput(name=store.name), id=store.workflow_id, task_queue=TASK_QUEUE
    )
    redirect.run_id = over
    with pytest.raises(StoreError, match="is not running"):
        await store.set("fourth", 4)
    assert (await store.snapshot()).entries == {}


async def run_changed(handle: WorkflowHandle[Any, Any], run_id: str) -> bool:
    return (await handle.describe()).run_id != run_id


async def test_a_full_store_continues_as_new_under_the_payload_limit(client: Client, worker: Worker) -> None:
    """1 MiB of values travels in the continue-as-new input; the server refuses payloads past 2 MiB."""
    store = await PersistentStore.create(client, unique("full"), TASK_QUEUE, continue_after_updates=20)
    first_run = (await client.get_workflow_handle(store.workflow_id).describe()).run_id
    big = "x" * (64_000 - 2)  # 64,000 bytes of JSON with its quotes
    await asyncio.gather(*(store.set(f"v{i:02}", big) for i in range(16)))
    assert (await store.usage()).bytes == 16 * (3 + 64_000)
    for i in range(6):
        await store.set(f"small{i}", i)
    assert (await client.get_workflow_handle(store.workflow_id).describe()).run_id != first_run
    assert await store.size() == 22
    assert all(v == big for v in await store.values("v"))


async def test_the_largest_possible_store_encodes_well_under_2_mib() -> None:
    """The worst case continue-as-new input: every key, every byte, large versions."""
    per_value = MAX_TOTAL_BYTES // MAX_KEYS - len("key-00000") - 2
    entries = {
        f"key-{i:05}": Entry(value="é" * (per_value // 2), version=10**12 + i) for i in range(MAX_KEYS)
    }
    inp = StoreInput(name="worst", entries=entries, revision=10**12 + MAX_KEYS)
    assert sum(len(k) + json_size(e.value) for k, e in entries.items()) <= MAX_TOTAL_BYTES
    [payload] = await data_converter([TEST_KEY]).encode([inp])
    assert payload.ByteSize() < 1.5 * 1024 * 1024, payload.ByteSize()


# --- limits -----------------------------------------------------------------------------------


async def test_each_limit_is_refused_with_its_own_message_and_nothing_recorded(
    client: Client, worker: Worker
) -> None:
    store = await PersistentStore.create(client, unique("limits"), TASK_QUEUE, limits=StoreLimits(max_keys=3))
    handle = client.get_workflow_handle_for(StoreWorkflow.run, store.workflow_id)
    await store.set("a", 1)
    await store.set("b", 2)
    await store.set("c", 3)
    before = await accepted_updates(client, store.workflow_id)

    # Too many keys (this store allows 3): a new key is refused, changing an old one is not.
    with pytest.raises(StoreLimitError, match=r"already holds 3 keys, the most it may; delete some"):
        await store.set("d", 4)
    with pytest.raises(StoreLimitError, match="already holds 3 keys"):
        await store.compare_and_set("d", 0, 4)

    # A value over 64 KiB: refused by the client before it is sent...
    huge = "y" * MAX_VALUE_BYTES
    with pytest.raises(
        StoreLimitError, match=r"is 65,538 bytes of JSON; a value may be at most 65,536 bytes"
    ):
        await store.set("a", huge)
    # ...and by the workflow's validator when something sends it anyway.
    with pytest.raises(WorkflowUpdateFailedError) as raw:
        await handle.execute_update(StoreWorkflow.set, SetRequest(key="a", value=huge))
    cause = raw.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == LIMIT_ERROR
    assert "a value may be at most 65,536 bytes" in cause.message

    # A stale compare_and_set.
    with pytest.raises(VersionConflict, match="'a' is at version 1, not version 2"):
        await store.compare_and_set("a", 2, "stale")

    assert await accepted_updates(client, store.workflow_id) == before
    assert await store.entries() == [("a", 1), ("b", 2), ("c", 3)]
    await store.set("a", "still fine")  # an existing key may change at the key limit

    # More than 1 MiB in all (the real limit, on a store with the default limits).
    full = await PersistentStore.create(client, unique("total"), TASK_QUEUE)
    big = "z" * (64_000 - 2)
    for i in range(16):
        await full.set(f"v{i:02}", big)
    before = await accepted_updates(client, full.workflow_id)
    with pytest.raises(
        StoreLimitError, match=r"would hold 1,088,051 bytes .* at most 1,048,576 bytes in all"
    ):
        await full.set("v16", big)
    assert await accepted_updates(client, full.workflow_id) == before
    assert not await full.has("v16")
    assert (await full.usage()).bytes == 16 * 64_003

    with pytest.raises(StoreError, match="must not be empty"):
        await store.set("", 1)
    with pytest.raises(StoreError, match="a key may be at most 512 bytes"):
        await store.set("k" * 513, 1)


async def test_a_full_store_is_a_refusal_the_user_is_shown(client: Client, worker: Worker) -> None:
    store = await PersistentStore.create(client, unique("full"), TASK_QUEUE, limits=StoreLimits(max_keys=1))
    await store.set("a", 1)
    with pytest.raises(StoreLimitError, match="already holds 1 keys") as refused:
        await store.set("b", 2)
    # The bot shows a UserError's message; anything else becomes "something went wrong".
    assert isinstance(refused.value, UserError)
    assert user_message(refused.value) == str(refused.value)


async def test_a_request_past_the_servers_limit_is_refused_at_once(client: Client, worker: Worker) -> None:
    """A 5 MB key was sent again for a minute (the server's "message larger than max" read as
    busy); a 3 MB write reached the worker, whose refusal carried it back and broke its task."""
    store = await PersistentStore.create(client, unique("huge"), TASK_QUEUE)
    await store.set("kept", 1)
    before = await accepted_updates(client, store.workflow_id)
    five_mb = "k" * 5_000_000
    three_mb = [TransactOp(key=f"v{i}", value="v" * 60_000) for i in range(50)]  # each value fits
    # About 2,096,600 bytes encoded: under the server's 2 MiB, but not the workflow's refusal,
    # which carries it back, so the store's workflow task failed over and over.
    almost_2_mib = [TransactOp(key=f"v{i}", value="v" * 61_597) for i in range(34)]
    limit = r"one request may carry at most 2,031,616 bytes \(the server takes 2 MiB at once"
    too_long = "a key may be at most 512 bytes"  # a key that can never be stored: not sent
    for call, refusal, words in (
        (store.set(five_mb, 1), StoreInputError, too_long),
        (store.get(five_mb), StoreInputError, too_long),
        (store.transact(three_mb), StoreLimitError, limit),
        (store.transact(almost_2_mib), StoreLimitError, limit),
    ):
        async with asyncio.timeout(5):  # refused here, not sent (and sent again) for a minute
            with pytest.raises(refusal, match=words) as refused:
                await call
        assert user_message(refused.value) == str(refused.value)
    # Nothing was written, and the store answers at once as before.
    async with asyncio.timeout(5):
        assert await store.set("after", 2) > 0
        assert await store.keys() == ["kept", "after"]
    assert await accepted_updates(client, store.workflow_id) == before + 1


async def test_limits_cannot_be_raised_above_the_hard_ones() -> None:
    with pytest.raises(ValueError, match="less than or equal to 65536"):
        StoreLimits(max_value_bytes=MAX_VALUE_BYTES + 1)
    assert json.dumps(StoreLimits().model_dump()) == (
        '{"max_value_bytes": 65536, "max_keys": 10000, "max_total_bytes": 1048576}'
    )


# --- crashes --------------------------------------------------------------------------------


async def test_writes_survive_kill_9_of_the_worker(server: DevServer, client: Client, tmp_path: Path) -> None:
    queue = unique("store-kill")
    # `python worker.py` logs in to Discord before polling.
    async with (
        FakeDiscord() as fake,
        WorkerProcess(
            temporal_address=server.address,
            task_queue=queue,
            discord_api_base=fake.base_url,
            log_dir=tmp_path,
        ) as proc,
    ):
        store = await PersistentStore.create(client, unique("kill-worker"), queue)
        acked = {f"k{i}": await store.set(f"k{i}", i) for i in range(20)}
        proc.kill()

        # A write made while no worker runs waits for one, then lands.
        late = asyncio.ensure_future(store.set("late", "while down"))
        await asyncio.sleep(1.0)
        assert not late.done()
        await proc.start_and_wait()
        acked["late"] = await asyncio.wait_for(late, 30)

        snapshot = await store.snapshot()
        assert {k: e.version for k, e in snapshot.entries.items()} == acked
        assert [snapshot.entries[f"k{i}"].value for i in range(20)] == list(range(20))


async def test_writes_survive_kill_9_of_the_server(tmp_path: Path) -> None:
    queue = unique("store-server")
    async with DevServer(db_file=tmp_path / "t.sqlite", port=free_port(), headless=True) as dev:
        client = await connect_client(dev)
        async with build_worker(client, queue, [], workflows=[StoreWorkflow]):
            store = await PersistentStore.create(client, unique("kill-server"), queue)
            acked = {f"k{i}": await store.set(f"k{i}", {"n": i}) for i in range(20)}
            dev.kill()
            await dev.restart()
            acked["after"] = await store.set("after", "restart")
            snapshot = await store.snapshot()
            assert {k: e.version for k, e in snapshot.entries.items()} == acked
            assert snapshot.entries["k19"].value == {"n": 19}


# --- time -----------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="session")  # with the shared time-skipping server
async def test_values_stay_for_a_year_without_any_timer(time_env: WorkflowEnvironment) -> None:
    async with build_worker(time_env.client, "store-time", [], workflows=[StoreWorkflow]):
        store = await PersistentStore.create(time_env.client, unique("year"), "store-time")
        await store.set("kept", {"since": "day one"})
        await time_env.sleep(timedelta(days=365))
        assert await store.get("kept") == {"since": "day one"}
        desc = await time_env.client.get_workflow_handle(store.workflow_id).describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
