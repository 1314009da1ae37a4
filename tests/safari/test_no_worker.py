"""Every Safari interaction is answered while no worker runs: the real dev server (its
visibility store answers listings), a bot in process (simcord), and nobody polling the queue.

simcord settles the bot between steps, so a Temporal call that will never be answered must be
declared as an external wait (`Env.external_wait`); `in_time`'s timer inside it then runs on
simcord's clock, and the test moves that clock past the wait with `advance_time`.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import pytest
import simcord
from temporalio.client import Client

from bot import replies
from tests.support.bot_harness import World, answered, bot_env, last_reply

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = TypeVar("T")


def declare_temporal_waits(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = replies.in_time

    async def in_time(awaitable: Awaitable[T], seconds: float = replies.WORKER_WAIT) -> T:
        # Both tasks wait on purpose: in_time's own, and the one wait_for runs the call in.
        call = w.env.external_wait(awaitable, reason="a Temporal call")
        return await w.env.external_wait(real(call, seconds), reason="in_time")  # type: ignore[no-any-return]

    # The module the bot loaded the cog from: discord.py makes a fresh one for each load.
    monkeypatch.setattr(sys.modules["bot.cogs.safari"], "in_time", in_time)
    # Reading the member's time zone for the modal's When field waits for a worker too.
    monkeypatch.setattr(sys.modules["bot.typed_when"], "in_time", in_time)


async def waited(w: World, interaction: Awaitable[simcord.InteractionResult]) -> simcord.InteractionResult:
    """The interaction after the bot waited WORKER_WAIT for a worker that never came."""
    result = answered(await interaction)
    await w.env.advance_time(replies.WORKER_WAIT + 1)
    return result


async def test_every_safari_interaction_is_answered_with_no_worker(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_env(client, f"no-worker-{uuid.uuid4().hex[:8]}") as w:
        declare_temporal_waits(w, monkeypatch)
        # The panel lists jobs from the visibility store: the server answers it alone.
        panel = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
        assert "No round results are scheduled." in str(panel.components)

        # A join waits for a worker: the player is told it is not confirmed, not left waiting.
        joined = last_reply(await waited(w, w.player.click(panel, label="Join")))
        assert joined.ephemeral and joined.content == replies.NOT_ANSWERED

        # Status: the listing, and a line saying the standings are not available.
        status = last_reply(await waited(w, w.player.click(panel, label="Status")))
        assert status.ephemeral and "not available right now" in status.content
        assert "No Safari round results are scheduled." in status.content

        refreshed = answered(await w.host.click(panel, label="Refresh"))
        assert refreshed.deferred

        # The host check reads the host role without a worker, so the modal opens; the game
        # check after the submission waits for one and says so.
        for shown in (
            answered(await w.host.click(panel, label="Schedule results")),
            answered(await w.host.slash(w.channel, "safari schedule")),
        ):
            assert shown.modal is not None
            done = last_reply(await waited(w, w.host.submit_modal(shown, {"when": "1h"})))
            assert done.ephemeral and done.content == replies.NOT_ANSWERED
        assert w.jobs.started == []

        refused = last_reply(answered(await w.player.slash(w.channel, "safari schedule")))
        assert "Only a host" in refused.content
