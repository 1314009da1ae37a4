"""End to end: a short chain on the real dev server, run by `python worker.py`, posting to the
fake Discord in real time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clients.challenges import Challenges
from tests.support.stack import CHANNEL, GUILD, Stack
from workflows.challenges_models import ChallengeResult, RoundAction, RoundSpec
from workflows.jobs_models import Reminder

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = 7003


def quick(name: str) -> RoundSpec:
    return RoundSpec(
        name=name,
        after=timedelta(seconds=4),
        reminders=[Reminder(offset=timedelta(seconds=2), message="2 seconds")],
        actions=[RoundAction(action="post_message", payload={"content": f"🏁 {name}!"})],
    )


async def test_a_chain_posts_its_reminders_and_rounds_in_order(stack: Stack) -> None:
    chains = Challenges(stack.client, stack.task_queue)
    challenge_id = await chains.create(
        key="e2e",
        title="Relay",
        guild_id=GUILD,
        channel_id=CHANNEL,
        host_id=HOST,
        rounds=[quick("Leg 1"), quick("Leg 2")],
    )
    result = await stack.client.get_workflow_handle(challenge_id, result_type=ChallengeResult).result()

    posts = [p.content.split(" (<t:")[0] for p in stack.discord.messages(CHANNEL)]
    assert result.outcome == "done"
    assert posts == [
        "⏰ **Relay: Leg 1** in 2 seconds",
        "**Relay** · Round 1 of 2\n🏁 Leg 1!",
        "⏰ **Relay: Leg 2** in 2 seconds",
        "**Relay** · Round 2 of 2\n🏁 Leg 2!",
    ]
    assert all(p.nonce and len(str(p.nonce)) <= 25 for p in stack.discord.messages(CHANNEL))
