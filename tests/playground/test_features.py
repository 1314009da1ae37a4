"""One pass through each of the newer features with the real bot process on the playground: what a
host and players do in Discord, and what they see arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from clients.jobs import Jobs
from local_discord.interactions import MODAL, Interaction
from local_discord.playground import CHANNELS, GUILD_ID, HOST_ID, OTHER_PLAYER_ID, PLAYER_ID
from local_discord.rest import DISCORD_EPOCH_MS
from stack.devserver import DevServer
from tests.playground.test_e2e import button, texts
from tests.support.playground import PlaygroundStack, playground_stack
from tests.support.temporal import eventually
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import job_suffix, run_tag

CLAIM_PREFIX = "season:claim:"  # the Claim button's custom id, a contract (components/seasons.py)

pytestmark = pytest.mark.asyncio(loop_scope="module")

GENERAL, SAFARI, EVENTS = CHANNELS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def play(server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PlaygroundStack]:
    async with playground_stack(server, Path(tmp_path_factory.mktemp("features"))) as running:
        yield running


def saw(play: PlaygroundStack, user_id: int, channel_id: int, text: str) -> bool:
    return any(text in t for t in texts(play.seen(user_id, channel_id)))


async def test_a_host_makes_a_custom_action_and_a_player_runs_it(play: PlaygroundStack) -> None:
    created = await play.command(HOST_ID, GENERAL, "action create", {"name": "Treasure"})
    assert created.refused == []
    await eventually(lambda: saw(play, HOST_ID, GENERAL, "Treasure"), 20)
    await play.command(
        HOST_ID, GENERAL, "action add-text", {"action": "Treasure", "text": "You dig up gold!"}
    )
    await eventually(lambda: saw(play, HOST_ID, GENERAL, "Added the text."), 20)
    ran = await play.command(PLAYER_ID, GENERAL, "action run", {"action": "Treasure"})
    assert ran.refused == []
    await eventually(lambda: saw(play, PLAYER_ID, GENERAL, "You dig up gold!"), 20)
    assert not saw(play, OTHER_PLAYER_ID, GENERAL, "You dig up gold!")  # the answer was the player's


async def test_a_challenge_chain_posts_its_rounds(play: PlaygroundStack) -> None:
    opened = await play.command(HOST_ID, EVENTS, "challenge create")
    assert opened.response_type == MODAL
    rounds = "2s Warm-up | 🏃 Warm-up round!\n2s Final | 🏁 Final round!"
    submitted = await play.submit(
        opened, {"key": "sprint", "title": "Sprint", "rounds": rounds, "reminders": ""}
    )
    assert submitted.refused == []
    await eventually(lambda: saw(play, PLAYER_ID, EVENTS, "Warm-up round!"), 30)
    await eventually(lambda: saw(play, PLAYER_ID, EVENTS, "Final round!"), 30)


async def test_an_admin_starts_the_health_check_and_it_reports_healthy(play: PlaygroundStack) -> None:
    started = await play.command(HOST_ID, EVENTS, "health start", {"channel": str(EVENTS), "minutes": 1})
    assert started.refused == []
    await eventually(lambda: saw(play, HOST_ID, EVENTS, "healthy"), 30)
    refused = await play.command(PLAYER_ID, EVENTS, "health status")
    assert refused.refused == []
    await eventually(lambda: saw(play, PLAYER_ID, EVENTS, "Manage Server"), 20)


async def test_a_season_fills_up_starts_and_offers_turns_by_dm(play: PlaygroundStack) -> None:
    created = await play.command(HOST_ID, SAFARI, "season create", {"min_players": 2, "max_players": 2})
    assert created.refused == []
    for player in (PLAYER_ID, OTHER_PLAYER_ID):
        joined = await play.command(player, SAFARI, "season join")
        assert joined.refused == []
    # At the maximum the season starts; each player is offered a turn in a DM with a Claim button.
    dm = int(play.discord.state(PLAYER_ID)["dm_channel_id"])
    claim = await _claim_button(play, dm)
    clicked = await play.click(PLAYER_ID, claim[0], claim[1])
    assert clicked.refused == []
    await eventually(lambda: any("claimed" in t.lower() for t in texts(play.seen(PLAYER_ID, dm))), 20)
    # The season says it started, where the opening post no longer invites anyone to join.
    await eventually(lambda: saw(play, OTHER_PLAYER_ID, SAFARI, "The season has started"), 20)
    await eventually(lambda: saw(play, OTHER_PLAYER_ID, SAFARI, "joining is closed"), 20)

    # The other player claims and writes by command in the DM, where the turn's buttons are (once
    # "/season is not a command the bot registered" there).
    other_dm = int(play.discord.state(OTHER_PLAYER_ID)["dm_channel_id"])
    await _claim_button(play, other_dm, OTHER_PLAYER_ID)
    by_command = await play.command(OTHER_PLAYER_ID, other_dm, "season claim")
    assert by_command.refused == []
    await eventually(lambda: saw(play, OTHER_PLAYER_ID, other_dm, "starts with you"), 20)
    wrote = await play.command(OTHER_PLAYER_ID, other_dm, "season submit", {"text": "a cat plays chess"})
    assert wrote.refused == []
    await eventually(lambda: saw(play, OTHER_PLAYER_ID, other_dm, "is in"), 20)


async def _claim_button(play: PlaygroundStack, dm: int, player: int = PLAYER_ID) -> tuple[int, str]:
    def find() -> tuple[int, str] | None:
        for message in reversed(play.seen(player, dm)):
            for row in message["components"]:
                for c in row.get("components") or []:
                    if str(c.get("custom_id", "")).startswith(CLAIM_PREFIX):
                        return int(message["id"]), str(c["custom_id"])
        return None

    await eventually(lambda: find() is not None, 30)
    found = find()
    assert found is not None
    return found


async def test_a_post_repeating_every_minute_posts_is_moved_paused_and_resumed(play: PlaygroundStack) -> None:
    """A host's post repeating every minute (a Temporal Schedule; each occurrence a job due 30 s
    after it starts, its reminder first): one occurrence run now is moved 20 s later from
    `/schedule list`, the repeat is paused and resumed, and it goes on posting on its own. About
    a minute and a half of wall time: the next minute's occurrence is waited for."""
    news = "📰 Minute news"
    created = await play.command(
        HOST_ID,
        GENERAL,
        "schedule post",
        {"channel": str(EVENTS), "message": news, "repeat": "news: every 1m", "reminders": "30s"},
    )
    assert created.refused == []
    await eventually(lambda: saw(play, HOST_ID, GENERAL, "Repeat **news**"), 20)
    try:
        await _move_paused_resumed(play, news)
    finally:
        await play.command(HOST_ID, GENERAL, "schedule repeat", {"name": "news", "do": "end"})
        await eventually(lambda: saw(play, HOST_ID, GENERAL, "Ended **news**"), 20)


def _posts(play: PlaygroundStack, text: str) -> list[datetime]:
    """When each post of exactly `text` was made in the events channel (from its snowflake)."""
    return [
        datetime.fromtimestamp(((int(m["id"]) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)
        for m in play.seen(PLAYER_ID, EVENTS)
        if m["content"] == text
    ]


async def _move_paused_resumed(play: PlaygroundStack, news: str) -> None:
    jobs = Jobs(play.client, play.task_queue)
    ran = await play.command(HOST_ID, GENERAL, "schedule repeat", {"name": "news", "do": "run-now"})
    assert ran.refused == []

    async def occurrence() -> str | None:
        found = [j.job_id for j in await jobs.get_jobs(GUILD_ID) if "-rp.news-" in j.job_id]
        return found[0] if found else None

    await eventually(lambda: _is_some(occurrence()), 20)
    job_id = await occurrence()
    assert job_id is not None
    due = (await jobs.status(job_id)).deadline

    # Moved 20 s later from /schedule list: the job's panel, Later / earlier…
    listing = await play.command(HOST_ID, GENERAL, "schedule list")
    listed = await button(play, HOST_ID, GENERAL, "jss:0")
    assert listing.refused == []
    run = (await play.client.get_workflow_handle(job_id).describe()).run_id
    value = f"{run_tag(run)}:{job_suffix(job_id, GUILD_ID)}"
    await play.discord.interactions.wait_answered(
        await play.discord.interactions.select(HOST_ID, listed, "jss:0", [value]), timeout=15
    )
    later = f"js:shift:{value}"
    panel = await button(play, HOST_ID, GENERAL, later)
    opened = await play.click(HOST_ID, panel, later)
    assert opened.response_type == MODAL
    moved = await play.submit(opened, {"by": "+20s"})
    assert moved.refused == []
    await eventually(lambda: saw(play, HOST_ID, GENERAL, "20s later: due <t:"), 20)
    assert (await jobs.status(job_id)).deadline == due + timedelta(seconds=20)

    # Paused, then resumed: the reply says which, and the schedule is paused in between.
    schedule = play.client.get_schedule_handle(f"repeat-{GUILD_ID}-news")
    paused = await play.command(HOST_ID, GENERAL, "schedule repeat", {"name": "news", "do": "pause"})
    assert "(UTC), ⏸️ paused." in await _answer(play, paused)
    assert (await schedule.describe()).schedule.state.paused
    resumed_by = await play.command(HOST_ID, GENERAL, "schedule repeat", {"name": "news", "do": "resume"})
    assert "(UTC), active." in await _answer(play, resumed_by)
    resumed = await schedule.describe()
    assert not resumed.schedule.state.paused
    next_fire = resumed.info.next_action_times[0]

    # The moved occurrence posts at its new time, not its old one...
    result = await play.client.get_workflow_handle_for(ScheduledJobWorkflow.run, job_id).result()
    ran_at = result.ran_at
    assert result.outcome == "done" and ran_at is not None and ran_at >= due + timedelta(seconds=20)
    assert any(abs(t - ran_at) < timedelta(seconds=5) for t in _posts(play, news))
    # ...and the resumed repeat goes on: the next minute's occurrence posts 30 s after it fires.
    await eventually(lambda: any(t >= next_fire + timedelta(seconds=29) for t in _posts(play, news)), 100)


async def _answer(play: PlaygroundStack, used: Interaction) -> str:
    """The text of the answer to a deferred command, once it is there."""

    def text() -> str:
        found = [
            m for m in play.seen(used.user_id, used.channel_id) if m["id"] == str(used.original_message_id)
        ]
        return found[0]["content"] if found else ""

    await eventually(lambda: bool(text()), 20)
    return text()


async def _is_some(value: Awaitable[object]) -> bool:
    return await value is not None
