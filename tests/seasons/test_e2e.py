"""End to end: the real dev server, `python worker.py` and the fake Discord, which refuses what
Discord refuses. A three-player season in seconds: one player's DMs are closed, the worker is
killed (-9) in the middle, and the finished games are posted as V2 cards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from clients.guild_settings import MemorySettings
from clients.seasons import Seasons
from tests.support.seasons_doubles import drawing, writing
from tests.support.stack import CHANNEL, GUILD, Stack
from tests.support.temporal import eventually
from workflows.seasons_models import SeasonResult, season_id_for

CLAIM_PREFIX = "season:claim:"  # the Claim button's custom id, a contract (components/seasons.py)

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST, P1, P2, P3 = 7003, 8101, 8102, 8103
RULES = {
    "claim_timeout": "20s",
    "claim_warning": "2s",
    "writing_timeout": "20s",
    "writing_warning": "2s",
    "drawing_timeout": "20s",
    "drawing_warning": "2s",
    "min_players": 3,
    "max_players": 3,
}


def custom_ids(components: list[Any]) -> list[str]:
    found: list[str] = []
    for component in components:
        if "custom_id" in component:
            found.append(str(component["custom_id"]))
        found.extend(custom_ids(component.get("components") or []))
    return found


def offered_turns(stack: Stack, player: int) -> list[str]:
    """Turn ids of the Claim buttons the worker has DM'd this player."""
    return [
        custom_id.removeprefix(CLAIM_PREFIX)
        for message in stack.discord.dms(player)
        for custom_id in custom_ids(message.components)
        if custom_id.startswith(CLAIM_PREFIX)
    ]


async def test_a_season_through_a_worker_crash_and_closed_dms(stack: Stack) -> None:
    seasons = Seasons(stack.client, stack.task_queue, MemorySettings())
    stack.discord.close_dms(P3)
    await seasons.create(guild_id=GUILD, channel_id=CHANNEL, host_id=HOST, overrides=RULES)
    for player in (P1, P2, P3):
        await seasons.join(GUILD, player)

    played: set[str] = set()

    async def play_all() -> int:
        count = 0
        for player in (P1, P2):
            for turn in offered_turns(stack, player):
                if turn in played:
                    continue
                played.add(turn)
                claim = await seasons.claim(turn, player)
                made = writing(f"{turn} by {player}") if claim.kind == "writing" else drawing()
                await seasons.submit(turn, player, made)
                count += 1
        return count

    await eventually(lambda: len(offered_turns(stack, P1)) == 1 and len(offered_turns(stack, P2)) == 1)
    assert await play_all() == 2
    stack.worker.kill()  # in the middle of the season: the next offers are the new worker's
    await asyncio.sleep(1)
    await stack.worker.start_and_wait()

    handle = stack.client.get_workflow_handle(season_id_for(GUILD), result_type=SeasonResult)
    for _ in range(600):
        await play_all()
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.1)
    result = await asyncio.wait_for(handle.result(), timeout=30)

    assert result.outcome == "completed"
    # P3 could never be reached: every game went through P1 and P2 only, each once.
    assert stack.discord.dms(P3) == []
    for game in result.games:
        assert sorted(step.player_id for step in game.steps) == [P1, P2]
    posts = stack.discord.messages(CHANNEL)
    assert any("The season is over: 3 finished games" in post.content for post in posts)
    cards = [post for post in posts if post.flags & (1 << 15)]
    assert len(cards) == 3
    # Six turns, each offered once (nothing posted twice across the crash), each offer DM edited
    # once claimed (its Claim button gave way to Submit, then to none).
    assert len(played) == 6
    dms = [m for player in (P1, P2) for m in stack.discord.dms(player)]
    offers = [m for m in dms if m.edits]
    assert len(offers) == 6 and all(CLAIM_PREFIX not in str(m.components) for m in offers)
    assert not [m for m in dms if not m.edits and "It is your turn" in m.content]  # no duplicate
