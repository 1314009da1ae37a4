"""The Custom Actions client on the time-skipping server: definitions kept safely under concurrent
edits, and currency applied exactly once per run however the calls race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from temporalio.testing import WorkflowEnvironment

from clients.custom_actions import ActionNotFound, CustomActionError, run_once
from tests.support.custom_actions_doubles import Harness, custom_actions_worker
from workflows.custom_actions_models import ActionDefinition, CurrencyOutcome, TextOutcome, action_key

QUEUE = "custom-actions-client"
GUILD, HOST, PLAYER = 6101, 6102, 6103


@pytest.fixture
async def h(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with custom_actions_worker(time_env.client, QUEUE, await time_env.get_current_time()) as harness:
        yield harness


def add(text: str) -> Callable[[ActionDefinition], ActionDefinition]:
    def change(d: ActionDefinition) -> ActionDefinition:
        return d.model_copy(update={"outcomes": [*d.outcomes, TextOutcome(text=text)]})

    return change


async def test_create_find_list_delete(h: Harness) -> None:
    hunt = await h.actions.create(GUILD, "  Night   Hunt ", by=HOST)
    await h.actions.create(GUILD, "Archery", by=HOST)

    assert hunt.name == "Night Hunt"
    assert (await h.actions.find(GUILD, "night hunt")).id == hunt.id
    assert (await h.actions.find(GUILD, hunt.id)).name == "Night Hunt"
    assert [d.name for d in await h.actions.all(GUILD)] == ["Archery", "Night Hunt"]
    assert await h.actions.delete(GUILD, hunt.id)
    with pytest.raises(ActionNotFound, match="no custom action named 'Night Hunt'"):
        await h.actions.find(GUILD, "Night Hunt")
    with pytest.raises(ActionNotFound):
        await h.actions.edit(GUILD, hunt.id, add("late"))


async def test_concurrent_edits_are_all_kept(h: Harness) -> None:
    created = await h.actions.create(GUILD, "Busy", by=HOST)
    await asyncio.gather(*(h.actions.edit(GUILD, created.id, add(f"line {n}")) for n in range(5)))

    texts = sorted(
        o.text for o in (await h.actions.find(GUILD, "Busy")).outcomes if isinstance(o, TextOutcome)
    )
    assert texts == [f"line {n}" for n in range(5)]


async def test_an_edit_that_breaks_a_rule_writes_nothing(h: Harness) -> None:
    created = await h.actions.create(GUILD, "Tidy", by=HOST)
    with pytest.raises(CustomActionError, match="at most 1800"):
        await h.actions.edit(GUILD, created.id, add("x" * 1801))
    assert (await h.actions.find(GUILD, "Tidy")).outcomes == []


async def test_an_action_saved_with_an_invisible_name_still_loads_and_can_be_renamed(h: Harness) -> None:
    """Saved before names had to show something: the guild's list still loads; an edit that
    keeps the name says what is wrong; a new name fixes it."""
    created = await h.actions.create(GUILD, "Ghost", by=HOST)
    store = await h.actions.store(GUILD)
    await store.set(action_key(created.id), created.model_dump(mode="json") | {"name": "\u3164\u200b"})
    assert [d.name for d in await h.actions.all(GUILD)] == ["\u3164\u200b"]
    with pytest.raises(CustomActionError, match="the name has no visible characters"):
        await h.actions.edit(GUILD, created.id, add("Boo"))
    renamed = await h.actions.edit(GUILD, created.id, lambda d: d.model_copy(update={"name": "Ghost"}))
    assert renamed.name == "Ghost" and (await h.actions.require(GUILD, created.id)).name == "Ghost"


async def test_one_run_applies_once_and_two_runs_both_apply_when_they_race(h: Harness) -> None:
    await h.give(GUILD, PLAYER, 100)
    created = await h.actions.create(GUILD, "Tax", by=HOST)
    definition = await h.actions.edit(
        GUILD, created.id, lambda d: d.model_copy(update={"outcomes": [CurrencyOutcome(amount=-10)]})
    )
    safari = await h.actions.safari(GUILD)

    # The same run three times at once (a retried activity racing itself): applied once.
    same = await asyncio.gather(*(run_once(safari, definition, PLAYER, [], "run-a") for _ in range(3)))
    assert await h.balance(GUILD, PLAYER) == 90
    assert {(c.before, c.after) for e in same for c in e.changes} == {(100, 90)}
    # Two different runs at once: both apply, neither is lost.
    await asyncio.gather(
        run_once(safari, definition, PLAYER, [], "run-b"), run_once(safari, definition, PLAYER, [], "run-c")
    )
    assert await h.balance(GUILD, PLAYER) == 70
