"""The currency markers of Custom Actions' runs stay bounded, with the real store workflow and
client code. 2,000 runs are 2,000 store transactions: about a minute on
a busy 2-core machine, the slowest test of this directory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.custom_actions import MARKERS, marker_run, run_once
from clients.safari import join
from clients.store import PersistentStore
from tests.support.custom_actions_doubles import Harness, custom_actions_worker
from workflows.custom_actions_models import CurrencyOutcome
from workflows.safari_engine import SafariError, store_name
from workflows.store_models import StoreLimits

QUEUE = "custom-actions-markers"
GUILD, HOST, PLAYER = 6201, 6202, 6203


@pytest.fixture
async def h(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with custom_actions_worker(time_env.client, QUEUE, await time_env.get_current_time()) as harness:
        yield harness


@pytest_asyncio.fixture(loop_scope="module")
async def busy(client: Client) -> AsyncIterator[Harness]:
    async with custom_actions_worker(client, f"{QUEUE}-{uuid.uuid4().hex[:8]}", datetime.now(UTC)) as harness:
        yield harness


@pytest.mark.asyncio(loop_scope="module")
async def test_2000_runs_of_a_ten_outcome_action_leave_the_safari_taking_joins(busy: Harness) -> None:
    """Each run's markers are deleted once its job has closed: the store stays far from its limit
    (before they were pruned, the 811th run of such an action filled it, and every join failed).

    On the real dev server: nothing here waits for a timer, and the time-skipping server, under
    two players' runs on a loaded machine, now and then reset the stream of a call (CANCEL)."""
    h = busy
    await h.give(GUILD, PLAYER, 100)
    created = await h.actions.create(GUILD, "Allowance", by=HOST)
    definition = await h.actions.edit(
        GUILD, created.id, lambda d: d.model_copy(update={"outcomes": [CurrencyOutcome(amount=1)] * 10})
    )
    safari = await h.actions.safari(GUILD)
    # A job still waiting for its action keeps its markers: its retry must find them.
    waiting = await h.actions.schedule(
        definition, guild_id=GUILD, channel_id=7, by=PLAYER, delay=timedelta(days=1)
    )
    running = f"{waiting.job_id}:{(await h.client.get_workflow_handle(waiting.job_id).describe()).run_id}"
    await run_once(safari, definition, PLAYER, [], running, is_over=h.actions.run_over)

    # Two players' runs at once, as a busy server's would come (eight at once made the
    # time-skipping server drop its connection now and then on a loaded machine).
    players, runs = 2, 1000
    for n in range(1, players):
        await h.give(GUILD, PLAYER + n, 100)

    async def runs_of(player: int) -> None:
        for n in range(runs):
            # Jobs the server has closed and forgotten: their action is never tried again.
            run_id = f"job-{GUILD}-p{player}k{n}:{uuid.uuid4()}"
            await run_once(safari, definition, player, [], run_id, is_over=h.actions.run_over)

    await asyncio.gather(*(runs_of(PLAYER + n) for n in range(players)))

    assert [await h.balance(GUILD, PLAYER + n) for n in range(players)] == [110 + 10 * runs] + [
        100 + 10 * runs
    ] * (players - 1)
    markers = await safari.keys(MARKERS)
    assert running in {marker_run(key) for key in markers}
    again = await run_once(safari, definition, PLAYER, [], running, is_over=h.actions.run_over)
    assert again.changes[0].before == 100 and await h.balance(GUILD, PLAYER) == 110 + 10 * runs
    assert len(markers) <= 10 * (players + 1), len(markers)  # the running job's, the last few runs'
    usage = await safari.usage()
    assert usage.bytes < usage.limits.max_total_bytes // 10, usage
    joined = await join(safari, PLAYER + players, "late")
    assert joined.joined


async def test_a_full_safari_refuses_a_join_with_a_reason(h: Harness) -> None:
    guild = GUILD + 1
    # A store with a small limit stands in for one filled by years of play.
    safari = await PersistentStore.create(
        h.client, store_name(guild), QUEUE, limits=StoreLimits(max_total_bytes=1200)
    )
    joined = [await join(safari, PLAYER + n, "p") for n in range(3)]
    assert all(j.joined for j in joined)
    with pytest.raises(SafariError, match=r"^the Safari's records are full, so nobody more can join$"):
        for n in range(3, 20):
            await join(safari, PLAYER + n, "p")
