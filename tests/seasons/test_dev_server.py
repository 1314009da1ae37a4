"""What the time-skipping server cannot show, on the real dev server in real time (rules in
seconds): timeouts that fall due while no worker runs act when a new worker starts, and an
operator's hard terminate of a season closes its turns through their parent close policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client

from tests.support.seasons_doubles import GUILD, HOST, PLAYERS, Doubles, open_season, season_worker, seasons
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

P1, P2 = PLAYERS[:2]


async def test_timeouts_due_while_no_worker_ran_act_when_a_new_worker_starts(client: Client) -> None:
    doubles = Doubles(None)
    facade = seasons(client)
    rules = {"claim_timeout": "8s", "claim_warning": "2s", "writing_timeout": "5s", "writing_warning": "1s"}
    async with season_worker(client, doubles, identity="worker-1"):
        handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=2, **rules)
        await eventually(lambda: len(doubles.offers) == 2)
        mine = doubles.offers_to(P1)[0].turn_id
        claim = await facade.claim(mine, P1)
        await eventually(lambda: any("You claimed" in text for text in doubles.edits_of(mine)))
    theirs = doubles.offers_to(P2)[0]
    # No worker while P1's submission deadline, P2's claim deadline and both warnings pass.
    outage_end = max(claim.submit_by, theirs.claim_by) + timedelta(seconds=2)
    await asyncio.sleep((outage_end - datetime.now(UTC)).total_seconds())
    back = datetime.now(UTC)
    assert doubles.dms == []

    async with season_worker(client, doubles, identity="worker-2"):
        await eventually(lambda: len(doubles.offers) == 4)
        await eventually(lambda: any("skipped" in text for text, _ in doubles.dms_to(P1)))
        await facade.end(GUILD, by=HOST)
        await handle.result()

    # A warning whose deadline passed during the outage is never sent late.
    assert not any("⏰" in message.content for message, _ in doubles.dms)
    [(_, skipped_at)] = [(text, at) for text, at in doubles.dms_to(P1) if "skipped" in text]
    assert skipped_at >= back
    assert any("not claimed" in text for text in doubles.edits_of(theirs.turn_id))
    # The game as it is now: each first step goes to the other player, with a fresh timeout.
    for player, game in ((P1, 1), (P2, 0)):
        offer = doubles.offers_to(player)[-1]
        assert offer.game == game and offer.claim_by >= back + timedelta(seconds=8)


async def test_an_operator_terminating_the_season_terminates_its_turns(client: Client) -> None:
    doubles = Doubles(None)
    facade = seasons(client)
    async with season_worker(client, doubles):
        handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=2)
        await eventually(lambda: len(doubles.offers) == 2)

        await handle.terminate(reason="operator")

        for offer, _ in doubles.offers:
            turn = client.get_workflow_handle(offer.turn_id)

            async def terminated(turn: object = turn) -> bool:
                status = (await turn.describe()).status  # type: ignore[attr-defined]
                return bool(status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED)

            await eventually(terminated)
