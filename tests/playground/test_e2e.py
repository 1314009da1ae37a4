"""The whole bot through the playground: the real bot process on the local Discord's gateway, the
real worker, the real dev server. Each test acts as the playground's members would on its page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from clients.jobs import Jobs
from local_discord.interactions import MODAL
from local_discord.playground import CHANNELS, GUILD_ID, HOST_ID, OTHER_PLAYER_ID, PLAYER_ID
from stack.devserver import DevServer
from tests.support.playground import PlaygroundStack, playground_stack
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

GENERAL, SAFARI, EVENTS = CHANNELS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def play(server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PlaygroundStack]:
    async with playground_stack(server, Path(tmp_path_factory.mktemp("playground"))) as running:
        yield running


def texts(messages: list[dict[str, Any]]) -> list[str]:
    """Every text a member reads in these messages: content and V2 text displays."""
    found: list[str] = []

    def walk(components: list[Any]) -> None:
        for c in components:
            if c.get("type") == 10:
                found.append(c["content"])
            walk(c.get("components") or [])

    for m in messages:
        if m["content"]:
            found.append(m["content"])
        walk(m["components"])
    return found


async def button(play: PlaygroundStack, user_id: int, channel_id: int, custom_id: str) -> int:
    """The id of the last message the member sees with the button `custom_id` (once there is one)."""
    await eventually(lambda: _with_button(play.seen(user_id, channel_id), custom_id) is not None, 20)
    found = _with_button(play.seen(user_id, channel_id), custom_id)
    assert found is not None
    return found


def _with_button(messages: list[dict[str, Any]], custom_id: str) -> int | None:

    def has(components: list[Any]) -> bool:
        return any(
            c.get("custom_id") == custom_id
            or has(c.get("components") or [])
            or (isinstance(c.get("accessory"), dict) and c["accessory"].get("custom_id") == custom_id)
            for c in components
        )

    return next((int(m["id"]) for m in reversed(messages) if has(m["components"])), None)


async def test_a_safari_round_is_scheduled_joined_reminded_and_posted(play: PlaygroundStack) -> None:
    panel = await play.command(HOST_ID, SAFARI, "safari panel")
    assert panel.refused == []
    joined = await play.click(PLAYER_ID, await button(play, PLAYER_ID, SAFARI, "safari:join"), "safari:join")
    await eventually(lambda: any("joined" in t for t in texts(play.seen(PLAYER_ID, SAFARI))))
    assert joined.refused == []

    opened = await play.command(HOST_ID, SAFARI, "safari schedule")
    assert opened.response_type == MODAL
    confirmed = await play.submit(opened, {"when": "3m"})
    assert confirmed.refused == []
    # A minute lasts a second here: the 1-minute reminder, then the results card (webhook, V2).
    await eventually(lambda: any("in 1 minute" in t for t in texts(play.seen(OTHER_PLAYER_ID, SAFARI))), 30)

    def card() -> list[dict[str, Any]]:
        return [m for m in play.seen(OTHER_PLAYER_ID, SAFARI) if m.get("webhook_id")]

    await eventually(lambda: bool(card()), 60)
    assert any("Safari: round 1" in t for t in texts(card()))
    assert f"<@{PLAYER_ID}>" in " ".join(texts(card()))
    # Only the player sees their own ephemeral confirmation.
    assert not any("joined" in t for t in texts(play.seen(OTHER_PLAYER_ID, SAFARI)))


async def test_a_host_cancels_a_job_from_the_jobs_list(play: PlaygroundStack) -> None:
    opened = await play.command(HOST_ID, EVENTS, "safari schedule")
    await play.submit(opened, {"when": "1h"})
    jobs = Jobs(play.client, play.task_queue)

    async def listed() -> bool:
        # The list reads the visibility store, which follows within moments: until it shows just
        # this round's job (the first test's round, over by now, may still be listed as running).
        return [job.key for job in await jobs.get_jobs(GUILD_ID)] == ["safari-round-2"]

    await eventually(listed, 20)
    listing = await play.command(HOST_ID, EVENTS, "schedule list")
    await eventually(lambda: any("1 waiting" in t for t in texts(play.seen(HOST_ID, EVENTS))), 20)
    shown = [m for m in play.seen(HOST_ID, EVENTS) if m["id"] == str(listing.original_message_id)]
    cancel = next(
        c["accessory"]["custom_id"]
        for c in shown[0]["components"][0]["components"]
        if c.get("type") == 9 and c["accessory"]["custom_id"].startswith("jc:")
    )
    clicked = await play.click(HOST_ID, int(shown[0]["id"]), cancel)
    assert clicked.refused == []
    await eventually(lambda: any(t.startswith("Cancelled") for t in texts(play.seen(HOST_ID, EVENTS))), 20)
    assert not any(t.startswith("Cancelled") for t in texts(play.seen(PLAYER_ID, EVENTS)))
    await eventually(lambda: _no_jobs(jobs), 20)


async def _no_jobs(jobs: Jobs) -> bool:
    return await jobs.get_jobs(GUILD_ID) == []


async def test_buttons_posted_before_a_bot_crash_work_after_its_restart(play: PlaygroundStack) -> None:
    await play.command(HOST_ID, GENERAL, "safari panel")
    panel = await button(play, HOST_ID, GENERAL, "safari:status")
    await play.restart_bot(crash=True)
    status = await play.click(OTHER_PLAYER_ID, panel, "safari:status")
    assert status.refused == []
    await eventually(lambda: any("Safari" in t for t in texts(play.seen(OTHER_PLAYER_ID, GENERAL))), 20)


async def test_a_whisper_is_read_by_its_recipient_only(play: PlaygroundStack) -> None:
    opened = await play.command(PLAYER_ID, GENERAL, "whisper send", {"to": str(OTHER_PLAYER_ID)})
    assert opened.response_type == MODAL
    await play.submit(opened, {"text": "the treasure is under the old oak"})
    # The worker posts the public notification with its Read Message button.
    await eventually(lambda: any("whispers to" in t for t in texts(play.seen(HOST_ID, GENERAL))), 30)
    notice = next(
        m for m in reversed(play.seen(HOST_ID, GENERAL)) if any("whispers to" in t for t in texts([m]))
    )
    read_id = notice["components"][0]["components"][0]["custom_id"]
    await play.click(HOST_ID, int(notice["id"]), read_id)
    await eventually(lambda: any("not for you" in t for t in texts(play.seen(HOST_ID, GENERAL))), 20)
    await play.click(OTHER_PLAYER_ID, int(notice["id"]), read_id)
    await eventually(lambda: any("old oak" in t for t in texts(play.seen(OTHER_PLAYER_ID, GENERAL))), 20)
    assert not any("old oak" in t for t in texts(play.seen(HOST_ID, GENERAL)))
    assert not any("old oak" in t for t in texts(play.seen(PLAYER_ID, GENERAL)))
