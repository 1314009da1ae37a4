"""SIGTERM to `python worker.py` (what docker compose and `make run` send): it stops polling, lets
the running post finish, and exits 0. Real processes: dev server, fake Discord, worker."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.app import GameBot, stop_on_signals
from clients.jobs import Jobs
from local_discord import FakeDiscord
from stack.devserver import DevServer
from tests.support.bot_harness import bot_settings
from tests.support.stack import CHANNEL, GUILD
from tests.support.temporal import eventually
from tests.support.worker_process import WorkerProcess
from workflows.jobs_models import JobResult

pytestmark = pytest.mark.asyncio(loop_scope="module")

POSTS = r"^/channels/\d+/messages$"


async def test_sigterm_during_a_post_lets_it_finish_and_exits_0(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        fake.add_channel(CHANNEL, GUILD)
        slow_post = fake.hold("POST", POSTS)
        worker = WorkerProcess(
            temporal_address=server.address,
            task_queue=f"ops-{uuid.uuid4().hex[:8]}",
            discord_api_base=fake.base_url,
            log_dir=tmp_path,
        )
        async with worker:
            try:
                assert worker.proc is not None
                job_id = await Jobs(client, worker.task_queue).schedule(
                    "post_message",
                    {"content": "posted while shutting down"},
                    guild_id=GUILD,
                    channel_id=CHANNEL,
                    scheduled_by=7003,
                    delay=timedelta(seconds=1),
                    description="Shutdown test",
                )
                await slow_post.wait_for(1, timeout=30)  # the post is at Discord, unanswered

                worker.proc.send_signal(signal.SIGTERM)
                await eventually(lambda: "worker stopping" in worker.log())
                assert worker.proc.poll() is None, "the worker exited with a post in flight"
                slow_post.release()

                await eventually(lambda: worker.proc is not None and worker.proc.poll() is not None)
                # No worker runs any more: the job completed with what the stopping worker reported.
                result = await asyncio.wait_for(
                    client.get_workflow_handle(job_id, result_type=JobResult).result(), 30
                )
            finally:
                slow_post.release()
        assert worker.proc.returncode == 0, worker.log()
        assert result.outcome == "done", result
        assert [m.content for m in fake.messages()] == ["posted while shutting down"]
        assert len(fake.requests("POST", POSTS)) == 1
        assert "worker stopped" in worker.log()
        fake.assert_no_violations()


async def test_sigterm_closes_the_bots_gateway(client: Client) -> None:
    bot = GameBot(bot_settings("ops-bot"), client)
    loop = asyncio.get_running_loop()
    stop_on_signals(bot)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await eventually(bot.is_closed)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
