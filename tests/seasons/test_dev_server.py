"""What the time-skipping server does not model, on the real dev server: an operator's hard
terminate of a season closes its turns through their parent close policy (TERMINATE)."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client

from tests.support.seasons_doubles import PLAYERS, Doubles, open_season, season_worker, seasons
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_an_operator_terminating_the_season_terminates_its_turns(client: Client) -> None:
    doubles = Doubles(None)
    facade = seasons(client)
    async with season_worker(client, doubles):
        handle = await open_season(facade, players=PLAYERS[:2], min_players=2, max_players=2)
        await eventually(lambda: len(doubles.offers) == 2)

        await handle.terminate(reason="operator")

        for offer, _ in doubles.offers:
            turn = client.get_workflow_handle(offer.turn_id)

            async def terminated(turn: object = turn) -> bool:
                status = (await turn.describe()).status  # type: ignore[attr-defined]
                return bool(status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED)

            await eventually(terminated)
