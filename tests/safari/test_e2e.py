"""End to end: the bot (simcord) schedules through its modal, the real worker (`python worker.py`)
on the dev server fires the job, and the reminder and results posts arrive at the fake Discord."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from simcord import assert_responded
from temporalio.client import Client

from bot.cogs.safari import SafariCog
from local_discord import FakeDiscord
from stack.devserver import DevServer
from tests.support.bot_harness import answered, bot_env, last_reply
from tests.support.worker_process import WorkerProcess
from workflows.jobs_models import JobResult

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_round_scheduled_in_discord_posts_its_reminders_and_results(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with FakeDiscord() as discord_api:
        async with (
            WorkerProcess(
                temporal_address=server.address,
                task_queue=f"bot-e2e-{uuid.uuid4().hex[:8]}",
                discord_api_base=discord_api.base_url,
                log_dir=tmp_path,
            ) as worker,
            bot_env(client, worker.task_queue) as w,
        ):
            discord_api.add_channel(w.channel.id, w.guild.id)
            # (load_extension imports the cog module afresh: compare by name, not class.)
            cog = w.bot.get_cog("Safari")
            assert cog is not None and type(cog).__name__ == SafariCog.__name__
            # The modal's "minutes" become seconds: 12 s, with the 5 and 1 "minute" reminders.
            cog.time_unit = timedelta(seconds=1)  # type: ignore[attr-defined]

            # Two players join from the panel, so the round has someone to pay.
            panel = last_reply(answered(await w.host.slash(w.channel, "safari panel")))
            for member in (w.player, w.other_player):
                answered(await member.click(panel, label="Join"))

            shown = answered(await w.host.slash(w.channel, "safari schedule"))
            done = answered(await w.host.submit_modal(shown, {"when": "12m"}))
            assert_responded(done, contains="Round 1 results are scheduled", ephemeral=True)
            confirmation = last_reply(done)
            assert not confirmation.ephemeral and "5 minutes and 1 minute" in confirmation.content
            [job_id] = w.jobs.started

            handle = client.get_workflow_handle(job_id, result_type=JobResult)
            result = await asyncio.wait_for(handle.result(), timeout=40)

        assert result.outcome == "done"
        assert [r.outcome for r in result.reminders] == ["sent", "sent"]
        posts = discord_api.messages()
        assert [p.channel_id for p in posts] == [w.channel.id] * 3
        assert [p.content.split(" (<t:")[0] for p in posts[:2]] == [
            "⏰ **Safari Round Results** in 5 minutes",
            "⏰ **Safari Round Results** in 1 minute",
        ]
        # The results card: Components V2 through a temporary webhook, deleted afterwards.
        card = posts[2]
        assert card.webhook_id is not None and card.flags & (1 << 15)
        assert "Safari: round 1" in str(card.components)
        assert f"<@{w.player.id}>" in str(card.components) and f"<@{w.other_player.id}>" in str(
            card.components
        )
        assert [h.deleted for h in discord_api.webhooks()] == [True]
        discord_api.assert_no_violations()
