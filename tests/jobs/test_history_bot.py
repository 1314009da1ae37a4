"""`/schedule history` and Retry through the bot (simcord), on the real dev server (the history
is read from visibility, which the time-skipping server does not have)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import discord
import pytest
import pytest_asyncio
from simcord import ResponseMessage
from simcord.components import walk_components
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from bot.jobs_history import past_line
from clients.jobs_history import PastJob
from components.jobs import RETRY_JOB
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.jobs_doubles import Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows import search_attributes as sa
from workflows.jobs_models import JobResult, job_suffix, run_tag

pytestmark = pytest.mark.asyncio(loop_scope="module")


class WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


@pytest_asyncio.fixture(loop_scope="module")
async def doubles() -> Doubles:
    return Doubles(WallClock())


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client, doubles: Doubles) -> AsyncIterator[World]:
    queue = f"history-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, queue, doubles.activities()), bot_env(client, queue) as w:
        yield w


def texts(message: ResponseMessage) -> str:
    return "\n".join(str(c["content"]) for c in walk_components(message.components) if c.get("type") == 10)


def labels(message: ResponseMessage) -> list[str]:
    return [str(c.get("label")) for c in walk_components(message.components) if c.get("type") == 2]


async def ran(w: World, description: str, channel_id: int, *, fail: bool = False) -> str:
    """Schedule a job due in a moment and wait for it to close."""
    job_id = await w.bot.jobs.schedule(
        "post_message",
        {"content": description},
        guild_id=w.guild.id,
        channel_id=channel_id,
        scheduled_by=w.host.id,
        delay=timedelta(milliseconds=200),
        description=description,
    )
    handle = w.client.get_workflow_handle(job_id, result_type=JobResult)
    result = await handle.result()
    assert result.outcome == ("failed" if fail else "done")
    return job_id


async def test_history_as_a_host_and_as_a_player_who_cannot_see_one_channel(
    world: World, doubles: Doubles
) -> None:
    w = world
    secret = w.guild.create_text_channel(
        "gm-only",
        overwrites={
            w.guild.default_role: discord.PermissionOverwrite(view_channel=False),
            w.player: discord.PermissionOverwrite(view_channel=True),
        },
    )
    await ran(w, "Open quiz", w.channel.id)
    await ran(w, "Secret plot", secret.id)

    def refuse(attempt: int) -> None:
        raise ApplicationError("Missing Permissions (403)", non_retryable=True)

    doubles.action_behaviour = refuse
    broken = await ran(w, "Broken post", w.channel.id, fail=True)
    doubles.action_behaviour = lambda attempt: None

    async def shown(actor: object, *wanted: str) -> ResponseMessage:
        seen: list[ResponseMessage] = []

        async def listed() -> bool:
            seen.append(last_reply(answered(await actor.slash(w.channel, "schedule history"))))  # type: ignore[attr-defined]
            return all(t in texts(seen[-1]) for t in wanted)

        await eventually(listed)
        return seen[-1]

    player_view = await shown(w.player, "Open quiz", "Secret plot", "Broken post")
    assert "Missing Permissions" in texts(player_view)
    assert "Retry" not in labels(player_view)  # hosts only

    other = await shown(w.other_player, "Open quiz", "Broken post")
    assert "Secret plot" not in texts(other)

    host = await shown(w.host, "Open quiz", "Broken post")
    assert "Secret plot" not in texts(host)  # the host cannot view gm-only either
    assert labels(host).count("Retry") == 1

    failed = last_reply(answered(await w.host.slash(w.channel, "schedule history", outcome="failed")))
    assert "Broken post" in texts(failed) and "Open quiz" not in texts(failed)

    # Retry runs the failed job again, now, as a new run of the same job.
    before = len(doubles.actions)
    retried = answered(await w.host.click(host, label="Retry"))
    assert "Retrying now" in texts(last_reply(retried)) or "Retrying now" in (
        last_reply(retried).content or ""
    )
    result = await w.client.get_workflow_handle(broken, result_type=JobResult).result()
    assert result.outcome == "done"
    assert len(doubles.actions) == before + 1
    assert doubles.actions[-1][0].retry_of is not None
    described = await w.client.get_workflow_handle(broken).describe()
    assert described.typed_search_attributes[sa.OUTCOME] == "done"
    # The same button again: that run is over and retried already.
    again = last_reply(answered(await w.host.click(host, label="Retry")))
    assert "run again since" in (again.content or "")


async def test_history_and_retry_answer_with_the_worker_stopped(client: Client) -> None:
    async with bot_env(client, f"nobody-{uuid.uuid4().hex[:8]}") as w:
        reply = last_reply(answered(await w.host.slash(w.channel, "schedule history")))
        assert "Past jobs" in texts(reply)


async def test_retry_clicked_with_the_worker_stopped_is_answered_and_runs_when_one_is_back(
    client: Client,
) -> None:
    queue = f"retry-stopped-{uuid.uuid4().hex[:8]}"
    doubles = Doubles(WallClock())

    def refuse(attempt: int) -> None:
        raise ApplicationError("Missing Permissions (403)", non_retryable=True)

    doubles.action_behaviour = refuse
    async with bot_env(client, queue) as w:
        async with build_worker(client, queue, doubles.activities()):
            broken = await ran(w, "Broken post", w.channel.id, fail=True)
        # The worker is stopped now.
        listed: list[ResponseMessage] = []

        async def shown() -> bool:
            listed.append(last_reply(answered(await w.host.slash(w.channel, "schedule history"))))
            return "Broken post" in texts(listed[-1])

        await eventually(shown)
        handle = w.client.get_workflow_handle(broken, result_type=JobResult)
        run = run_tag((await handle.describe()).run_id)
        button = RETRY_JOB.build(run=run, suffix=job_suffix(broken, w.guild.id))
        retried = last_reply(answered(await w.host.click(listed[-1], custom_id=button)))
        assert "Retrying now" in (texts(retried) + (retried.content or ""))
        status = (await handle.describe()).status
        assert status is not None and status.name == "RUNNING"  # waits for a worker

        doubles.action_behaviour = lambda attempt: None
        async with build_worker(client, queue, doubles.activities()):
            assert (await handle.result()).outcome == "done"


async def test_reminders_not_posted_for_one_reason_say_it_once() -> None:
    """A job run early misses its reminders for one reason: the line names it once (before, once
    per reminder), and a reminder missed for another reason keeps its own."""
    due = datetime(2026, 12, 8, 19, 30, tzinfo=UTC)
    early = "the job was run early, before this reminder"
    job = PastJob(
        job_id="job-1-x",
        run_id="r",
        action="post_message",
        description="Quiz night",
        channel_id=11,
        scheduled_by=101,
        due=due,
        closed=due,
        outcome="done",
        ran=due,
        sent=1,
        not_sent=[("1h", early), ("10m", early), ("1m", "Discord refused it")],
    )
    assert past_line(job).splitlines()[-2] == (
        f"reminders: 1 posted, not posted: 1h, 10m ({early}); 1m (Discord refused it)"
    )
