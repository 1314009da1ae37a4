"""Seasons and their turns on the time-skipping server, with the Discord activities replaced by
doubles registered under the same names. Times are the server's; deadlines are checked to the
minute they were promised."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.names import Names
from clients.seasons import Already, SeasonError, Seasons, TooLate
from tests.support.seasons_doubles import (
    CHANNEL,
    GUILD,
    HOST,
    PLAYERS,
    Doubles,
    drawing,
    open_season,
    season_handle,
    season_worker,
    seasons,
    writing,
)
from tests.support.temporal import eventually
from workflows import search_attributes as sa
from workflows.common import NotYours
from workflows.seasons import SeasonWorkflow
from workflows.seasons_models import SeasonResult, TerminateRequest

P1, P2, P3, P4 = PLAYERS[:4]
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


async def offered(doubles: Doubles, count: int) -> None:
    await eventually(lambda: len(doubles.offers) >= count)


def turn_of(doubles: Doubles, player: int, nth: int = 0) -> str:
    return doubles.offers_to(player)[nth].turn_id


async def started_pair(facade: Seasons, doubles: Doubles, **rules: object) -> None:
    """A two-player season that starts at once (minimum = maximum = 2)."""
    await open_season(facade, players=[P1, P2], min_players=2, max_players=2, **rules)
    await offered(doubles, 2)


async def test_a_claim_in_time_ends_the_claim_timeout_and_starts_the_writing_timeout(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    [offer] = doubles.offers_to(P1)
    assert offer.game == 0 and offer.kind == "writing"
    await time_env.sleep(3 * HOUR)
    claimed_at = await time_env.get_current_time()

    claim = await facade.claim(offer.turn_id, P1)

    assert claim.kind == "writing" and claim.previous is None
    assert claimed_at + DAY <= claim.submit_by < claimed_at + DAY + MINUTE
    # Past the claim deadline: the claimed turn is neither dismissed nor re-offered.
    await time_env.sleep(DAY - 2 * HOUR)
    assert not any("not claimed" in text for text in doubles.edits_of(offer.turn_id))
    # P2 let theirs lapse; game 2 waits for P1, the only one left, who is busy with game 1.
    assert any("not claimed" in text for text in doubles.edits_of(turn_of(doubles, P2)))
    assert len(doubles.offers_to(P1)) == 1 and len(doubles.offers_to(P2)) == 1
    assert any("You claimed" in text for text in doubles.edits_of(offer.turn_id))
    # No claim warning for the claimed turn (P2's unclaimed one had one).
    assert not any("still waiting" in text for text, _ in doubles.dms_to(P1))
    assert any("still waiting" in text for text, _ in doubles.dms_to(P2))

    result = await facade.submit(offer.turn_id, P1, writing("a dragon learns to knit"))
    assert result.game == 0
    await eventually(lambda: any("is in" in text for text in doubles.edits_of(offer.turn_id)))


async def test_an_unclaimed_offer_is_dismissed_and_re_offered_with_a_fresh_timeout(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    start = await time_env.get_current_time()
    await started_pair(facade, doubles)
    first = doubles.offers_to(P1)[0]
    assert start + DAY <= first.claim_by < start + DAY + MINUTE

    await time_env.sleep(DAY + MINUTE)

    # Both lapsed at once; each game's first step goes to the other player, with a new deadline.
    assert any("not claimed" in text for text in doubles.edits_of(first.turn_id))
    second_for_p2 = doubles.offers_to(P2)[1]
    assert second_for_p2.game == first.game == 0 and second_for_p2.turn_id.endswith("-g0-s0-o1")
    assert first.claim_by + DAY <= second_for_p2.claim_by < first.claim_by + DAY + MINUTE
    with pytest.raises(TooLate, match="Too late"):
        await facade.claim(first.turn_id, P1)

    # The fresh timeout fires too: nobody is left who has not had either game, so the season ends.
    await time_env.sleep(DAY + MINUTE)
    result: SeasonResult = await season_handle(facade).result()
    assert result.outcome == "completed"
    assert all(game.steps == [] and sorted(game.visited) == [P1, P2] for game in result.games)
    assert doubles.cards == []
    # Nothing to show is said as such, not as "0 finished games. Here they are:" and nothing.
    assert "none of its 2 players handed in a turn in time" in doubles.posts[-1].content
    assert "Here they are" not in doubles.posts[-1].content


async def test_a_claimed_turn_not_submitted_in_time_is_skipped_and_the_game_moves_on(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    mine, theirs = turn_of(doubles, P1), turn_of(doubles, P2)
    claim = await facade.claim(mine, P1)
    await facade.claim(theirs, P2)
    await facade.submit(theirs, P2, writing("the moon is made of cheese"))

    await time_env.sleep(DAY + MINUTE)

    [(skip_dm, at)] = [(text, at) for text, at in doubles.dms_to(P1) if "skipped" in text]
    assert claim.submit_by <= at < claim.submit_by + MINUTE
    assert "did not submit your writing for game 1" in skip_dm
    assert any("is over" in text for text in doubles.edits_of(mine))
    # Game 1's first step goes to P2 (P1 never plays it again); P1 draws P2's sentence.
    next_for_p2 = doubles.offers_to(P2)[1]
    assert next_for_p2.game == 0 and next_for_p2.kind == "writing"
    next_for_p1 = doubles.offers_to(P1)[1]
    assert next_for_p1.game == 1 and next_for_p1.kind == "drawing"
    claim2 = await facade.claim(next_for_p1.turn_id, P1)
    assert claim2.previous is not None and claim2.previous.submission.text == "the moon is made of cheese"
    with pytest.raises(TooLate, match="Too late"):
        await facade.submit(mine, P1, writing("too late now"))


async def test_warnings_fall_at_the_deadline_minus_the_warning(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    start = await time_env.get_current_time()
    await started_pair(facade, doubles, writing_warning="2h", claim_warning="3h")
    await time_env.sleep(DAY - 3 * HOUR - MINUTE)
    assert doubles.dms == []
    await time_env.sleep(2 * MINUTE)
    warned = doubles.dms_to(P1)
    assert len(warned) == 1 and "still waiting" in warned[0][0]
    assert start + DAY - 3 * HOUR <= warned[0][1] < start + DAY - 3 * HOUR + MINUTE

    claim = await facade.claim(turn_of(doubles, P1), P1)
    await time_env.sleep(DAY - 2 * HOUR - MINUTE)
    assert [text for text, _ in doubles.dms_to(P1) if "is due" in text] == []
    await time_env.sleep(2 * MINUTE)
    [(text, at)] = [(text, at) for text, at in doubles.dms_to(P1) if "is due" in text]
    assert claim.submit_by - 2 * HOUR <= at < claim.submit_by - 2 * HOUR + MINUTE
    assert f"<t:{int(claim.submit_by.timestamp())}:R>" in text


async def test_drawing_turns_use_the_drawing_timeout_and_its_ten_minute_warning(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles, turn_pattern=["drawing"], drawing_timeout="6h")
    claim = await facade.claim(turn_of(doubles, P1), P1)
    claimed_at = await time_env.get_current_time()
    assert claim.kind == "drawing"
    assert claimed_at + 6 * HOUR - MINUTE <= claim.submit_by < claimed_at + 6 * HOUR + MINUTE
    await time_env.sleep(6 * HOUR - 9 * MINUTE)
    [(_, at)] = [(text, at) for text, at in doubles.dms_to(P1) if "is due" in text]
    assert claim.submit_by - 10 * MINUTE <= at < claim.submit_by - 9 * MINUTE
    with pytest.raises(SeasonError, match="not an image"):
        await facade.submit(claim.turn_id, P1, drawing().model_copy(update={"content_type": "text/plain"}))
    with pytest.raises(SeasonError, match="drawing turn"):
        await facade.submit(claim.turn_id, P1, writing())
    await facade.submit(claim.turn_id, P1, drawing())


async def test_late_double_and_foreign_claims_are_refused(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    mine, theirs = turn_of(doubles, P1), turn_of(doubles, P2)
    await facade.claim(mine, P1)
    with pytest.raises(Already, match=r"^You already claimed this turn\.$"):
        await facade.claim(mine, P1)
    with pytest.raises(NotYours, match="not offered to you"):
        await facade.claim(theirs, P1)
    with pytest.raises(SeasonError, match="Claim this turn first"):
        await facade.submit(theirs, P2, writing())

    await time_env.sleep(DAY + MINUTE)  # P2's offer lapsed; the workflow is closed by now
    with pytest.raises(TooLate, match=r"^Too late"):
        await facade.claim(theirs, P2)
    with pytest.raises(TooLate, match=r"^Too late"):
        await facade.claim("turn-1-2-g0-s0-o0", P2)


async def test_concurrent_claims_of_one_turn_leave_exactly_one_claimant(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await started_pair(facade, doubles)
    turn = turn_of(doubles, P1)
    attempts = [P1, P2, P1, P1, P2, P1]
    outcomes = await asyncio.gather(*(facade.claim(turn, who) for who in attempts), return_exceptions=True)

    won = [who for who, outcome in zip(attempts, outcomes, strict=True) if not isinstance(outcome, Exception)]
    assert won == [P1]
    refused = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert all(isinstance(error, Already | NotYours) for error in refused), refused
    status = await time_env.client.get_workflow_handle(turn).query("status")
    assert status["state"] == "claimed" and int(status["player_id"]) == P1


async def test_below_the_minimum_the_season_is_cancelled_and_the_host_told(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    start = await time_env.get_current_time()
    handle = await open_season(facade, players=[P1, P2, P3])
    with pytest.raises(SeasonError, match="needs at least 6"):
        await facade.start(GUILD, by=HOST)
    await time_env.sleep(7 * DAY - HOUR)
    assert doubles.dms == []
    await time_env.sleep(2 * HOUR)

    result = await handle.result()

    assert result.outcome == "cancelled" and result.players == [P1, P2, P3]
    [(text, at)] = doubles.dms_to(HOST)
    assert "cancelled: only 3 players joined" in text and "at least 6" in text
    assert start + 7 * DAY <= at < start + 7 * DAY + MINUTE
    assert doubles.posts[-1].channel_id == CHANNEL and "cancelled" in doubles.posts[-1].content
    assert doubles.offers == []
    with pytest.raises(TooLate):
        await facade.join(GUILD, P4)


async def test_the_season_starts_as_soon_as_the_maximum_joins(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=3)
    with pytest.raises(Already, match="already joined"):
        await facade.join(GUILD, P1)
    assert doubles.offers == []
    joined = await facade.join(GUILD, P3)
    assert joined.started and joined.players == 3

    await offered(doubles, 3)
    # Each player is offered the first turn of their own game.
    assert sorted((o.player_id, o.game) for o, _ in doubles.offers) == [(P1, 0), (P2, 1), (P3, 2)]
    with pytest.raises(SeasonError, match=r"no longer open|full"):
        await facade.join(GUILD, P4)
    status = await facade.status(GUILD)
    assert status.state == "running" and status.open_until > await time_env.get_current_time()
    await facade.end(GUILD, by=HOST)
    assert (await handle.result()).outcome == "ended"


async def test_ending_a_season_ends_every_timer_of_every_turn(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, players=[P1, P2, P3], min_players=3, max_players=3)
    await offered(doubles, 3)
    await facade.claim(turn_of(doubles, P2), P2)
    with pytest.raises(NotYours, match="Only the season's host"):
        await facade.end(GUILD, by=P1)

    await facade.end(GUILD, by=HOST, reason="server maintenance")
    result = await handle.result()

    assert result.outcome == "ended"
    turns = [offer.turn_id for offer, _ in doubles.offers]
    for turn in turns:
        description = await time_env.client.get_workflow_handle(turn).describe()
        assert description.status == WorkflowExecutionStatus.CANCELED
        assert any("season was ended" in text for text in doubles.edits_of(turn))
    dms_before = len(doubles.dms)
    await time_env.sleep(3 * DAY)  # no warning, timeout or re-offer is left to fire
    assert len(doubles.dms) == dms_before and len(doubles.offers) == 3
    assert (
        "ended the season" in doubles.posts[-1].content and "server maintenance" in doubles.posts[-1].content
    )


async def test_a_season_ended_while_discord_refuses_dm_edits_ends_at_once(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=2)
    await offered(doubles, 2)
    await facade.claim(turn_of(doubles, P1), P1)
    doubles.edits_fail = True
    ended_at = await time_env.get_current_time()

    status = await facade.end(GUILD, by=HOST)
    await time_env.sleep(MINUTE)

    # The channel is told and the season is over within the minute, though no DM edit got
    # through; no turn is left behind it.
    assert status.state in ("ended", "running")  # answered at once, as before any turn was told
    assert "ended the season" in doubles.posts[-1].content
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert description.close_time is not None and description.close_time - ended_at < timedelta(seconds=20)
    assert (await handle.result()).outcome == "ended"
    for offer, _ in doubles.offers:
        turn = await time_env.client.get_workflow_handle(offer.turn_id).describe()
        assert turn.status == WorkflowExecutionStatus.CANCELED
    # The claimed turn, whose edit was on its way when the season ended, kept no timer either.
    await time_env.sleep(2 * DAY)
    assert doubles.dms == []
    # A new season can be opened.
    await open_season(facade, players=[P1])


async def test_an_unreachable_player_is_passed_over(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    doubles.unreachable.add(P2)
    await open_season(facade, players=[P1, P2], min_players=2, max_players=2)
    # P2's own game goes to P1 once P1 is free; P2 is never offered anything.
    await offered(doubles, 1)
    await facade.claim(turn_of(doubles, P1), P1)
    await facade.submit(turn_of(doubles, P1), P1, writing())
    await offered(doubles, 2)
    assert doubles.offers_to(P1)[1].game == 1


async def test_bad_rules_are_refused_before_anything_starts(facade: Seasons) -> None:
    with pytest.raises(SeasonError, match="not a duration"):
        await open_season(facade, claim_timeout="tomorrow")
    with pytest.raises(SeasonError, match=r"claim warning .* must come before"):
        await open_season(facade, claim_timeout="1h", claim_warning="2h")
    with pytest.raises(SeasonError, match="minimum of 8 players is above the maximum of 7"):
        await open_season(facade, min_players=8, max_players=7)
    with pytest.raises(SeasonError, match="no season"):
        await facade.status(GUILD)


async def test_many_players_joining_at_once_all_get_in(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    # More joins at once than the 10 updates the server admits in flight on one workflow.
    crowd = [9000 + n for n in range(14)]
    handle = await open_season(facade)
    results = await asyncio.gather(*(facade.join(GUILD, player) for player in crowd))
    assert sorted(result.players for result in results) == list(range(1, 15))
    assert sorted((await facade.status(GUILD)).players) == crowd
    await facade.end(GUILD, by=HOST)
    assert (await handle.result()).outcome == "ended"


async def test_one_season_at_a_time_per_server(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade)
    with pytest.raises(Already, match="already running"):
        await open_season(facade)
    await facade.end(GUILD, by=HOST)
    assert (await handle.result()).outcome == "ended"
    assert (await handle.describe()).typed_search_attributes[sa.OUTCOME] == "cancelled"
    # Once it is over, the next one can start.
    await open_season(facade, players=[P1])
    assert (await facade.status(GUILD)).players == [P1]


async def test_seasons_and_turns_carry_search_attributes_and_summaries_for_the_web_ui(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, min_players=2, max_players=2)
    await facade.join(GUILD, P1, names=Names(member="Pax"))
    await facade.join(GUILD, P2)  # a name not known: the id's mention, as before names
    await offered(doubles, 2)
    turn = time_env.client.get_workflow_handle(turn_of(doubles, P1))
    other = time_env.client.get_workflow_handle(turn_of(doubles, P2))
    for described in (await handle.describe(), await turn.describe()):
        assert described.typed_search_attributes[sa.GUILD_ID] == str(GUILD)
        assert described.typed_search_attributes[sa.CHANNEL_ID] == str(CHANNEL)
    assert (
        await (await handle.describe()).static_summary()
        == f"season in channel {CHANNEL} hosted by member {HOST}"
    )
    # The player's name beside their id (before, only `<@id>`, which the Web UI shows raw).
    assert await (await turn.describe()).static_summary() == f"game 1, step 1: writing turn for Pax ({P1})"
    assert await (await other.describe()).static_summary() == f"game 2, step 1: writing turn for <@{P2}>"


async def timer_names(client: Client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    names = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            [decoded] = await client.data_converter.decode([event.user_metadata.summary])
            names.append(decoded)
    return names


async def test_every_timer_is_named_for_what_it_waits_for(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, players=[P1, P2], min_players=2, max_players=3)
    await facade.start(GUILD, by=HOST)
    await offered(doubles, 2)
    turn = turn_of(doubles, P1)
    await time_env.sleep(DAY - 30 * MINUTE)
    await facade.claim(turn, P1)
    await time_env.sleep(DAY + MINUTE)  # the writing turn times out

    assert await timer_names(time_env.client, handle.id) == ["open for joining"]
    assert await timer_names(time_env.client, turn) == [
        "claim warning",
        "claim timeout",
        "writing warning",
        "writing timeout",
    ]


async def test_the_start_is_posted_and_the_opening_post_corrected(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    """Once nothing said a season had started, and its opening post went on inviting players."""
    handle = await open_season(facade, min_players=2, max_players=2)
    await facade.announced(GUILD, CHANNEL, 99)
    for player in (P1, P2):
        await facade.join(GUILD, player)
    await offered(doubles, 2)
    await eventually(lambda: bool(doubles.openings))
    [opening] = doubles.openings
    assert (opening.channel_id, opening.message_id) == (CHANNEL, 99)
    assert "started" in opening.content and "with 2 players: joining is closed" in opening.content
    [started] = [post for post in doubles.posts if "has started" in post.content]
    assert started.channel_id == CHANNEL and "2 players, 2 games" in started.content
    await facade.end(GUILD, by=HOST)
    await handle.result()
    assert len(doubles.openings) == 1  # it already said joining was closed


@pytest.mark.parametrize("ending", ["too few players", "ended by the host"])
async def test_a_season_that_never_starts_corrects_its_opening_post(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons, ending: str
) -> None:
    handle = await open_season(facade, players=[P1])
    await facade.announced(GUILD, CHANNEL, 99)
    if ending == "too few players":
        await time_env.sleep(7 * DAY + MINUTE)
    else:
        await facade.end(GUILD, by=HOST)
    await handle.result()
    [opening] = doubles.openings
    expected = (
        "was cancelled: 1 of the 6 players" if ending == "too few players" else "ended before it started"
    )
    assert expected in opening.content
    assert not any("has started" in post.content for post in doubles.posts)


async def test_a_raw_terminate_for_another_servers_season_is_refused_by_the_season(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    handle = await open_season(facade, players=[P1], min_players=2)
    # A caller going around the client: another server's host, or a request naming no server.
    with pytest.raises(WorkflowUpdateFailedError) as other:
        await handle.execute_update(
            SeasonWorkflow.terminate, TerminateRequest(by=HOST, as_host=True, guild_id=GUILD + 1)
        )
    assert isinstance(other.value.cause, ApplicationError)
    assert other.value.cause.message == "That season is in another server."
    with pytest.raises(WorkflowUpdateFailedError) as unnamed:
        await handle.execute_update(SeasonWorkflow.terminate, TerminateRequest(by=HOST, as_host=True))
    assert isinstance(unnamed.value.cause, ApplicationError)
    assert unnamed.value.cause.message == "That request does not say which server it is for."
    assert (await facade.status(GUILD)).state == "open"
    # The explicit operator path (the command line) needs neither.
    await handle.execute_update(SeasonWorkflow.terminate, TerminateRequest(by=P1, operator=True))
    assert (await handle.result()).outcome == "ended"


async def test_a_caller_claiming_to_be_a_host_without_the_role_is_refused_by_the_season(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, facade: Seasons
) -> None:
    await open_season(facade, players=[P1, P2], min_players=2)
    doubles.discord_guild.hosts = set()  # Discord counts nobody a host
    # The bot would not set as_host for P1; a caller that does is checked with Discord.
    with pytest.raises(NotYours, match="Only a host of this server"):
        await facade.end(GUILD, by=P1, as_host=True)
    with pytest.raises(NotYours, match="Only a host of this server"):
        await facade.start(GUILD, by=P1, as_host=True)
    assert (await facade.status(GUILD)).state == "open"
    assert [(q.guild_id, q.user_id) for q in doubles.discord_guild.asked] == [(GUILD, P1), (GUILD, P1)]
    # One Discord counts as a host (here: the host role) may.
    doubles.discord_guild.hosts = {(GUILD, P2)}
    await facade.end(GUILD, by=P2, as_host=True)
    assert (await season_handle(facade).result()).outcome == "ended"
