"""Whole seasons on the time-skipping server: six players to the end with lapsed offers and
skipped turns along the way, a worker restart with a timeout due in between, and a host's
wall-clock closing time across a daylight-saving change. (This server cannot skip time while a
task waits for a worker, so a longer outage with several timeouts due is in test_dev_server.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from clients.seasons import Seasons
from tests.support.seasons_doubles import (
    CHANNEL,
    GUILD,
    HOST,
    PLAYERS,
    Doubles,
    drawing,
    non_sticky_worker,
    open_season,
    season_handle,
    season_worker,
    seasons,
    writing,
)
from tests.support.temporal import eventually
from workflows.seasons_models import SeasonResult
from workflows.times import wall_clock

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def position_of(turn_id: str) -> tuple[int, int, int]:
    game, step, offer = turn_id.rsplit("-", 3)[1:]
    return int(game[1:]), int(step[1:]), int(offer[1:])


async def play(
    env: WorkflowEnvironment,
    facade: Seasons,
    doubles: Doubles,
    *,
    ignore: set[tuple[int, int]],
    abandon: set[tuple[int, int]],
) -> None:
    """Act as the players until the season is over: claim and submit every offer, except the
    first offer of each (game, step) in `ignore` (never claimed) or `abandon` (claimed, never
    submitted). Checks after every round that nobody holds two pending turns."""
    handled: set[str] = set()
    for _ in range(400):
        status = await facade.status(GUILD)
        if status.state != "running":
            return
        active = [game.active_player for game in status.games if game.active_player is not None]
        assert len(active) == len(set(active)), f"a player holds two pending turns: {active}"
        new = [offer for offer, _ in doubles.offers if offer.turn_id not in handled]
        for offer in new:
            handled.add(offer.turn_id)
            game, step, attempt = position_of(offer.turn_id)
            if attempt == 0 and (game, step) in ignore:
                continue
            claim = await facade.claim(offer.turn_id, offer.player_id)
            if attempt == 0 and (game, step) in abandon:
                continue
            made = (
                writing(f"game {game + 1} step {step + 1} by {offer.player_id}")
                if claim.kind == "writing"
                else drawing(f"https://cdn.discordapp.com/attachments/1/{game}{step}/d.png")
            )
            await facade.submit(offer.turn_id, offer.player_id, made)
        # Nothing new to play: let the clock run towards the next timeout.
        await env.sleep(timedelta(hours=2) if not new else timedelta(seconds=1))
    raise AssertionError("the season did not end")


async def test_six_players_play_a_season_to_the_end_with_some_timeouts(time_env: WorkflowEnvironment) -> None:
    doubles, facade = Doubles(time_env), seasons(time_env.client)
    players = PLAYERS[:6]
    ignore, abandon = {(0, 0), (2, 3), (4, 1)}, {(1, 2), (5, 0)}
    async with season_worker(time_env.client, doubles):
        handle = await open_season(facade, players=players[:5])
        assert doubles.offers == []  # five is below the minimum of six: still open
        await facade.join(GUILD, players[5])
        await facade.start(GUILD, by=HOST)
        await eventually(lambda: len(doubles.offers) == 6)
        await play(time_env, facade, doubles, ignore=ignore, abandon=abandon)
        result: SeasonResult = await handle.result()

    assert result.outcome == "completed" and len(result.games) == 6
    for game in result.games:
        # Every player had every game exactly once: played it, let it lapse or was skipped.
        assert sorted(game.visited) == sorted(players)
        authors = [step.player_id for step in game.steps]
        assert len(authors) == len(set(authors))
        assert [step.position for step in game.steps] == list(range(len(game.steps)))
        kinds = [step.submission.kind for step in game.steps]
        assert kinds == ["writing" if n % 2 == 0 else "drawing" for n in range(len(kinds))]
    # Each lapsed or abandoned turn cost its game one step: five steps where one went missing.
    lengths = {game.game: len(game.steps) for game in result.games}
    assert lengths == {0: 5, 1: 5, 2: 5, 3: 6, 4: 5, 5: 5}
    # Re-offered with a fresh timeout, to someone else.
    for game_no, step in ignore | abandon:
        first = next(o for o, _ in doubles.offers if position_of(o.turn_id) == (game_no, step, 0))
        again = next(o for o, _ in doubles.offers if position_of(o.turn_id) == (game_no, step, 1))
        assert again.player_id != first.player_id and again.claim_by > first.claim_by
    skipped = [text for message, _ in doubles.dms for text in [message.content] if "was skipped" in text]
    assert len(skipped) == len(abandon)
    # The finished games are announced, every step in order.
    assert [card.game for card in doubles.cards] == list(range(6))
    assert all(card.channel_id == CHANNEL for card in doubles.cards)
    assert [card.steps for card in doubles.cards] == [game.steps for game in result.games]
    assert "6 finished games by 6 players" in doubles.posts[-1].content


@pytest.mark.wall_clock
async def test_a_wall_clock_closing_time_across_a_dst_change_lands_on_the_right_instant(
    time_env: WorkflowEnvironment,
) -> None:
    # Move the server's clock to Thursday 25 March 2027; Paris moves to summer time on Sunday 28.
    thursday = datetime(2027, 3, 25, 12, 0, tzinfo=UTC)
    now = await time_env.get_current_time()
    assert now < thursday, "the test needs the server clock before March 2027"
    await time_env.sleep(thursday - now)
    now = await time_env.get_current_time()

    closes = wall_clock("Monday 18:00", "Europe/Paris", now)

    # 18:00 CEST (UTC+2), not 17:00 as 4 days 6 hours of CET would give.
    assert closes == datetime(2027, 3, 29, 16, 0, tzinfo=UTC)
    doubles, facade = Doubles(time_env), seasons(time_env.client)
    async with season_worker(time_env.client, doubles):
        await facade.create(guild_id=GUILD, channel_id=CHANNEL, host_id=HOST, open_until=closes, now=now)
        await time_env.sleep(closes - now - MINUTE)
        assert doubles.dms == []
        await time_env.sleep(2 * MINUTE)
        result = await season_handle(facade).result()
    assert result.outcome == "cancelled"
    [(text, at)] = doubles.dms_to(HOST)
    assert closes <= at < closes + MINUTE
    assert f"<t:{int(closes.timestamp())}:F>" in text


async def test_a_claim_timeout_due_while_no_worker_ran_acts_when_one_returns(
    time_env: WorkflowEnvironment,
) -> None:
    """The time-skipping server skips to the first timer that falls due while no worker runs
    (it cannot skip further while that task waits), so the outage is sized to end there."""
    doubles, facade = Doubles(time_env), seasons(time_env.client)
    p1, p2 = PLAYERS[:2]
    # Without a workflow cache, so no task is left on this worker's sticky queue when it stops
    # (the time-skipping server does not move such tasks on to the next worker).
    async with non_sticky_worker(time_env.client, doubles):
        await open_season(facade, players=[p1, p2], min_players=2, max_players=2)
        await eventually(lambda: len(doubles.offers) == 2)
        mine, theirs = doubles.offers_to(p1)[0], doubles.offers_to(p2)[0]
        await time_env.sleep(DAY - 30 * MINUTE)  # both claim warnings went out
        await facade.claim(mine.turn_id, p1)
        await eventually(lambda: any("You claimed" in text for text in doubles.edits_of(mine.turn_id)))
    warned = len(doubles.dms)
    # No worker when P2's claim deadline passes.
    await time_env.sleep(theirs.claim_by - await time_env.get_current_time() + timedelta(seconds=1))
    assert not any("not claimed" in text for text in doubles.edits_of(theirs.turn_id))

    async with season_worker(time_env.client, doubles, identity="worker-2"):
        await eventually(lambda: any("not claimed" in text for text in doubles.edits_of(theirs.turn_id)))
        [(_, at)] = [(edit, at) for edit, at in doubles.edits if edit.turn_id == theirs.turn_id]
        assert at > theirs.claim_by
        # P2 is free again and has had game 2, so P1's game (after P1's turn) is theirs next.
        await time_env.sleep(DAY)
        await eventually(lambda: len(doubles.offers_to(p2)) == 2)
        assert doubles.offers_to(p2)[1].game == 0
    # The claim warnings sent before the outage are not sent again by the new worker.
    assert warned == 2 and len([m for m, _ in doubles.dms if "still waiting" in m.content]) == 2
