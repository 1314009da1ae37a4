"""A host moves the time a season's joining closes, on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.seasons import SeasonError, Seasons, TooLate
from tests.support.seasons_doubles import (
    CHANNEL,
    GUILD,
    HOST,
    PLAYERS,
    Doubles,
    open_season,
    season_worker,
    seasons,
    writing,
)
from tests.support.temporal import eventually
from workflows.common import NotYours
from workflows.times import discord_time

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
    await facade.announced(GUILD, CHANNEL, 99)
    status = await facade.move_close(GUILD, DAY, by=HOST)
    assert abs(status.open_until - (start + 8 * DAY)) < MINUTE
    status = await facade.move_close(GUILD, -2 * HOUR, by=HOST)
    assert abs(status.open_until - (start + 8 * DAY - 2 * HOUR)) < MINUTE
    # The opening post says the moved time, its Join button kept, the last move last.
    await eventually(lambda: len(doubles.openings) == 2)
    moved = doubles.openings[-1]
    assert moved.message_id == 99 and moved.keep_buttons
    assert f"before {discord_time(status.open_until)}" in moved.content
    assert f"<@{HOST}> moved the closing time" in moved.content

    # Past the first closing time, joining is still open; the season starts at the moved one.
    await time_env.sleep(7 * DAY + HOUR)
    assert doubles.offers == []
    await facade.join(GUILD, P3)
    await time_env.sleep(DAY - 2 * HOUR)
    await eventually(lambda: len(doubles.offers) == 3)
    status = await facade.status(GUILD)
    assert status.state == "running"
    # Then it says the season started, and its Join button is gone.
    await eventually(lambda: "started" in doubles.openings[-1].content)
    assert len(doubles.openings) == 3 and not doubles.openings[-1].keep_buttons
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


# --- a host changes one player's turn ---------------------------------------------------------


async def started_pair(facade: Seasons, doubles: Doubles) -> None:
    await open_season(facade, players=[P1, P2], min_players=2, max_players=2)
    await eventually(lambda: len(doubles.offers) >= 2)


async def test_a_host_extends_the_claim_then_the_submission(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    [offer] = doubles.offers_to(P1)
    turn = await facade.host_turn(GUILD, P1, by=HOST, as_host=True, extend=6 * HOUR)
    assert turn.claim_by is not None and abs(turn.claim_by - (offer.claim_by + 6 * HOUR)) < MINUTE
    # The offer DM now says the new deadline, its Claim button kept.
    claim_by = turn.claim_by
    await eventually(lambda: any(discord_time(claim_by) in t for t in doubles.edits_of(offer.turn_id)))
    [(extended, _)] = [(e, at) for e, at in doubles.edits if e.turn_id == offer.turn_id]
    assert "more time" in extended.content and extended.claim and extended.submit_kind is None

    # Past the first claim deadline the offer still stands, and its warning moved with it.
    await time_env.sleep(DAY + HOUR)
    assert not any("not claimed" in text for text in doubles.edits_of(offer.turn_id))
    assert not any("still waiting" in text for text, _ in doubles.dms_to(P1))
    assert any("still waiting" in text for text, _ in doubles.dms_to(P2))  # P2's was not extended
    claim = await facade.claim(offer.turn_id, P1)

    turn = await facade.host_turn(GUILD, P1, by=HOST, as_host=True, extend=2 * HOUR)
    assert turn.submit_by is not None and abs(turn.submit_by - (claim.submit_by + 2 * HOUR)) < MINUTE
    submit_by = turn.submit_by
    await eventually(lambda: any(discord_time(submit_by) in t for t in doubles.edits_of(offer.turn_id)))
    last = [e for e, _ in doubles.edits if e.turn_id == offer.turn_id][-1]
    assert "more time: submit before" in last.content and last.submit_kind == "writing"
    await time_env.sleep(DAY + HOUR)  # past the first submission deadline
    await facade.submit(offer.turn_id, P1, writing("just in time"))
    await eventually(lambda: any("is in" in text for text in doubles.edits_of(offer.turn_id)))


async def test_a_player_claiming_to_be_a_host_cannot_change_a_turn(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    mine = doubles.offers_to(P1)[0].turn_id
    doubles.discord_guild.hosts = {(GUILD, HOST)}  # what Discord says: P2 is no host
    with pytest.raises(NotYours, match="Only a host of this server"):
        await facade.host_turn(GUILD, P1, by=P2, as_host=True)
    assert not any("A host skipped" in text for text in doubles.edits_of(mine))
    await facade.host_turn(GUILD, P1, by=HOST, as_host=True)
    await eventually(lambda: any("A host skipped" in text for text in doubles.edits_of(mine)))


async def test_a_host_skips_a_player_and_the_game_moves_on(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    mine = doubles.offers_to(P1)[0].turn_id
    with pytest.raises(NotYours, match="Only a host"):
        await facade.host_turn(GUILD, P1, by=P2, as_host=False)
    await facade.host_turn(GUILD, P1, by=HOST, as_host=True)
    await eventually(lambda: any("A host skipped" in text for text in doubles.edits_of(mine)))
    # Once P2 is free, game 1's first step goes to them, long before P1's claim deadline.
    theirs = doubles.offers_to(P2)[0].turn_id
    await facade.claim(theirs, P2)
    await facade.submit(theirs, P2, writing("a quick one"))
    await eventually(lambda: len(doubles.offers_to(P2)) == 2)
    assert doubles.offers_to(P2)[1].game == 0
    with pytest.raises(TooLate):
        await facade.claim(mine, P1)
    # P1 plays on in the other game.
    await eventually(lambda: len(doubles.offers_to(P1)) == 2)
    assert doubles.offers_to(P1)[1].game == 1
