"""One pass through each of the newer features with the real bot process on the playground: what a
host and players do in Discord, and what they see arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from local_discord.interactions import MODAL
from local_discord.playground import CHANNELS, HOST_ID, OTHER_PLAYER_ID, PLAYER_ID
from stack.devserver import DevServer
from tests.playground.test_e2e import texts
from tests.support.playground import PlaygroundStack, playground_stack
from tests.support.temporal import eventually

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


async def _claim_button(play: PlaygroundStack, dm: int) -> tuple[int, str]:
    def find() -> tuple[int, str] | None:
        for message in reversed(play.seen(PLAYER_ID, dm)):
            for row in message["components"]:
                for c in row.get("components") or []:
                    if str(c.get("custom_id", "")).startswith(CLAIM_PREFIX):
                        return int(message["id"]), str(c["custom_id"])
        return None

    await eventually(lambda: find() is not None, 30)
    found = find()
    assert found is not None
    return found
