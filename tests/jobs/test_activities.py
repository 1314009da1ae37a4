"""The reminder activity itself refuses to post at or after its last moment, even when the
workflow's cancel comes late: a late reminder is never sent, whatever the retries."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobsActivities
from workflows.jobs import REMINDER_TOO_LATE
from workflows.jobs_models import ReminderInput


@dataclass
class SlowChannel:
    """A channel whose posts take `delay` seconds to be answered by Discord."""

    delay: float = 0.0
    sent: list[str] = field(default_factory=list)
    nonces: list[str] = field(default_factory=list)

    async def send(self, content: str, **kwargs: Any) -> SimpleNamespace:
        await asyncio.sleep(self.delay)
        self.sent.append(content)
        self.nonces.append(kwargs["nonce"])
        return SimpleNamespace(id=1234)


def activities(channel: SlowChannel) -> JobsActivities:
    client = SimpleNamespace(http=SimpleNamespace(token="token"), get_partial_messageable=lambda _: channel)
    return JobsActivities(cast(discord.Client, client))


def reminder(post_by: datetime) -> ReminderInput:
    return ReminderInput(
        job_id="job-1-x",
        guild_id=1,
        channel_id=2,
        message="5 minutes",
        deadline=post_by,
        description="Quiz",
        post_by=post_by,
    )


async def test_a_reminder_past_its_last_moment_is_refused_for_good() -> None:
    channel = SlowChannel()
    late = reminder(datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities(channel).send_reminder, late)
    assert refused.value.type == REMINDER_TOO_LATE and refused.value.non_retryable
    assert "last moment" in refused.value.message
    assert channel.sent == []


async def test_a_post_discord_has_not_answered_by_the_last_moment_is_abandoned() -> None:
    channel = SlowChannel(delay=5.0)
    soon = reminder(datetime.now(UTC) + timedelta(seconds=0.3))
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities(channel).send_reminder, soon)
    assert refused.value.type == REMINDER_TOO_LATE and refused.value.non_retryable
    assert channel.sent == []


async def test_a_reminder_in_time_is_posted() -> None:
    channel = SlowChannel()
    result = await ActivityEnvironment().run(
        activities(channel).send_reminder, reminder(datetime.now(UTC) + timedelta(minutes=1))
    )
    assert result == {"message_id": "1234"}
    assert len(channel.sent) == 1 and "**Quiz** in 5 minutes" in channel.sent[0]


async def test_every_attempt_at_one_reminder_carries_one_nonce() -> None:
    """Each attempt is its own local activity (its own activity id); if Discord took the first
    post and its answer was lost, the second must carry the same nonce, so Discord answers with
    the first message instead of posting again."""
    channel = SlowChannel()
    due = reminder(datetime.now(UTC) + timedelta(minutes=5)).model_copy(
        update={"nonce_key": "reminder:5m:12:00"}
    )
    first, second = ActivityEnvironment(), ActivityEnvironment()
    second.info = dataclasses.replace(second.info, activity_id="2")
    for env in (first, second):
        await env.run(activities(channel).send_reminder, due)
    other = due.model_copy(update={"nonce_key": "reminder:1m:12:04"})
    await first.run(activities(channel).send_reminder, other)
    assert channel.nonces[0] == channel.nonces[1] != channel.nonces[2]
