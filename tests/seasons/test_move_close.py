"""A host moves the time a season's joining closes, on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.seasons import NotYours, SeasonError, Seasons, TooLate
from tests.support.seasons_doubles import GUILD, HOST, PLAYERS, Doubles, open_season, season_worker, seasons
from tests.support.temporal import eventually

P1, P2, P3 = PLAYERS[:3]
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture
async def doubles(time_env: WorkflowEnvironment) -> Doubles:
    return Doubles(time_env)


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, doubles: Doubles) -> AsyncIterator[Worker]:
    async with season_worker(time_env.client, doubles) as running:
        yield running


@pytest.fixture
def facade(time_env: WorkflowEnvironment) -> Seasons:
    return seasons(time_env.client)


async def test_joining_closes_at_the_moved_time(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    start = await time_env.get_current_time()
    handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=5)
    status = await facade.move_close(GUILD, DAY, by=HOST)
    assert abs(status.open_until - (start + 8 * DAY)) < MINUTE
    status = await facade.move_close(GUILD, -2 * HOUR, by=HOST)
    assert abs(status.open_until - (start + 8 * DAY - 2 * HOUR)) < MINUTE

    # Past the first closing time, joining is still open; the season starts at the moved one.
    await time_env.sleep(7 * DAY + HOUR)
    assert doubles.offers == []
    await facade.join(GUILD, P3)
    await time_env.sleep(DAY - 2 * HOUR)
    await eventually(lambda: len(doubles.offers) == 3)
    status = await facade.status(GUILD)
    assert status.state == "running"
    await facade.end(GUILD, by=HOST)
    assert (await handle.result()).outcome == "ended"


async def test_only_the_host_and_never_into_the_past_or_once_started(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=5)
    with pytest.raises(NotYours, match="Only the season's host"):
        await facade.move_close(GUILD, HOUR, by=P1)
    with pytest.raises(SeasonError, match="which has passed"):
        await facade.move_close(GUILD, -8 * DAY, by=HOST)
    await facade.start(GUILD, by=HOST)
    with pytest.raises(TooLate, match="no longer open"):
        await facade.move_close(GUILD, HOUR, by=HOST)
    await facade.end(GUILD, by=HOST)
    assert (await handle.result()).outcome == "ended"
