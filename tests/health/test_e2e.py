"""End to end: the health check on the real dev server, run by `python worker.py` with its real
probes (the fake Discord, the worker's own pollers, the dev server's visibility)."""

from __future__ import annotations

import pytest

from clients.health import HealthChecks
from tests.support.stack import CHANNEL, GUILD, Stack
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_first_check_posts_healthy_once(stack: Stack) -> None:
    checks = HealthChecks(stack.client, stack.task_queue)
    await checks.start(guild_id=GUILD, admin_channel_id=CHANNEL)
    await eventually(lambda: len(stack.discord.messages(CHANNEL)) == 1)
    status = await checks.status(GUILD)
    [post] = stack.discord.messages(CHANNEL)

    assert post.content.startswith("🟢 **Health: healthy**"), post.content
    assert [(r.name, r.state) for r in status.results] == [
        ("health_probe_discord", "healthy"),
        ("health_probe_task_queue", "healthy"),
        ("health_probe_failed_jobs", "healthy"),
    ]
    # A second run-now finds the same state: nothing more is posted.
    again = await checks.run_now(GUILD, by=1)
    assert again.checks == 2 and len(stack.discord.messages(CHANNEL)) == 1
