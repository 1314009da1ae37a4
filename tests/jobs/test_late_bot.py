"""A host's late policy for their own post (`/schedule post if_late:`), and every control of the
history, Retry and the late policy answered with the worker stopped (simcord, real dev server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simcord import ResponseMessage, assert_message
from simcord.components import walk_components
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.exceptions import ApplicationError

from bot.replies import NOT_ANSWERED, WORKER_WAIT
from clients.guild_settings import LogChannel
from clients.jobs import Jobs
from clients.time_zones import TimeZones
from tests.jobs.test_bot import wait_for_in_this_task
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.jobs_doubles import Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows.jobs_models import IfLate, JobResult, JobSpec

pytestmark = pytest.mark.asyncio(loop_scope="module")


class WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


def texts(message: ResponseMessage) -> str:
    shown = "\n".join(str(c["content"]) for c in walk_components(message.components) if c.get("type") == 10)
    return f"{message.content or ''}\n{shown}"


async def started_spec(client: Client, job_id: str) -> JobSpec:
    """The spec a job was started with: what its workflow reads when it falls due."""
    history = await client.get_workflow_handle(job_id).fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    [spec] = await client.data_converter.decode(payloads, [JobSpec])
    assert isinstance(spec, JobSpec)
    return spec


async def only_job(w: World, jobs: Jobs) -> str:
    async def one() -> bool:
        return len(await jobs.get_jobs(w.guild.id)) == 1

    await eventually(one)
    [job] = await jobs.get_jobs(w.guild.id)
    return job.job_id


async def test_a_host_chooses_what_happens_to_their_post_if_the_bot_is_offline(client: Client) -> None:
    queue = f"late-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, queue, Doubles(WallClock()).activities()), bot_env(client, queue) as w:
        jobs = w.bot.jobs
        skip = last_reply(
            answered(
                await w.host.slash(
                    w.channel,
                    "schedule post",
                    channel=w.channel,
                    message="Quiz night!",
                    when="2h",
                    if_late="skip after 30m",
                )
            )
        )
        assert_message(skip, contains="Scheduled a post in", ephemeral=True)
        assert "it will skip it if it could only post it more than 30m late" in (skip.content or "")
        first = await only_job(w, jobs)
        assert (await started_spec(client, first)).if_late == IfLate(skip_after=timedelta(minutes=30))
        await jobs.cancel(first, by=w.host.id, guild_id=w.guild.id, as_host=True)

        anyway = last_reply(
            answered(
                await w.host.slash(
                    w.channel,
                    "schedule post",
                    channel=w.channel,
                    message="Doors open!",
                    when="3h",
                    if_late="run anyway",
                )
            )
        )
        assert "it will post it as soon as it is back" in (anyway.content or "")
        second = await only_job(w, jobs)
        assert (await started_spec(client, second)).if_late == IfLate(skip_after=None)
        await jobs.cancel(second, by=w.host.id, guild_id=w.guild.id, as_host=True)

        # Without the option, the post keeps its action's own policy (skip after an hour).
        plain = last_reply(
            answered(
                await w.host.slash(w.channel, "schedule post", channel=w.channel, message="Hi", when="1h")
            )
        )
        assert "offline" not in (plain.content or "")
        third = await only_job(w, jobs)
        assert (await started_spec(client, third)).if_late is None
        await jobs.cancel(third, by=w.host.id, guild_id=w.guild.id, as_host=True)

        # A repeat's occurrences carry the choice too.
        repeated = last_reply(
            answered(
                await w.host.slash(
                    w.channel,
                    "schedule post",
                    channel=w.channel,
                    message="Daily news",
                    repeat="news: every day at 09:00",
                    if_late="skip after 2h",
                )
            )
        )
        assert_message(repeated, contains="Repeat **news**", ephemeral=True)
        assert "it will skip it if it could only post it more than 2h late" in (repeated.content or "")
        described = await client.get_schedule_handle(f"repeat-{w.guild.id}-news").describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        [spec] = await client.data_converter.decode(action.args, [JobSpec])
        assert spec.if_late == IfLate(skip_after=timedelta(hours=2))
        await client.get_schedule_handle(f"repeat-{w.guild.id}-news").delete()


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("whenever", "“whenever” is not a late policy: write `run anyway`, or `skip after`"),
        ("skip after 20s", "“20s” is too short: at least 1 minute"),
        ("skip after 400d", "“400d” is too long: at most 365 days"),
    ],
)
async def test_a_malformed_late_policy_is_refused_in_words_and_nothing_is_scheduled(
    client: Client, typed: str, said: str
) -> None:
    async with bot_env(client, f"late-bad-{uuid.uuid4().hex[:8]}") as w:  # no worker: none is needed
        refused = last_reply(
            answered(
                await w.host.slash(
                    w.channel, "schedule post", channel=w.channel, message="x", when="1h", if_late=typed
                )
            )
        )
        assert_message(refused, contains="Nothing was scheduled", ephemeral=True)
        assert said in (refused.content or "")
        assert [job for job in await w.bot.jobs.get_jobs(w.guild.id) if job.description == "Post: x"] == []


async def test_every_history_retry_and_late_control_is_answered_with_the_worker_stopped(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"late-stopped-{uuid.uuid4().hex[:8]}"
    doubles = Doubles(WallClock())
    async with bot_env(client, queue) as w:
        # The module's other tests leave past jobs in this guild (simcord's ids repeat): a channel of its own.
        own = w.guild.create_text_channel("late-stopped")
        # Seven past jobs (two pages), the last one failed, while a worker ran...
        async with build_worker(client, queue, doubles.activities()):
            for number in range(7):
                if number == 6:

                    def refuse(attempt: int) -> None:
                        raise ApplicationError("Missing Permissions (403)", non_retryable=True)

                    doubles.action_behaviour = refuse
                job_id = await w.bot.jobs.schedule(
                    "post_message",
                    {"content": f"post {number}"},
                    guild_id=w.guild.id,
                    channel_id=own.id,
                    scheduled_by=w.host.id,
                    delay=timedelta(milliseconds=200),
                    description=f"Past post {number}",
                )
                await w.client.get_workflow_handle(job_id, result_type=JobResult).result()
        # ...and now none runs.
        pages: list[ResponseMessage] = []

        async def listed() -> bool:
            pages.append(last_reply(answered(await w.host.slash(w.channel, "schedule history", channel=own))))
            return "7 in the last" in texts(pages[-1])

        await eventually(listed)
        first = pages[-1]
        assert "Past post 6" in texts(first) and "page 1 of 2" in texts(first)

        second = last_reply(answered(await w.host.click(first, label="Next")))
        assert "page 2 of 2" in texts(second) and "Past post 0" in texts(second)
        back = last_reply(answered(await w.host.click(second, label="Previous")))
        assert "page 1 of 2" in texts(back)
        again = last_reply(answered(await w.host.click(back, label="Refresh")))
        assert "Past post 6" in texts(again)
        failed = last_reply(
            answered(await w.host.slash(w.channel, "schedule history", outcome="failed", channel=own))
        )
        assert "Past post 6" in texts(failed) and "Past post 5" not in texts(failed)

        retried = last_reply(answered(await w.host.click(failed, label="Retry")))
        assert "Retrying now" in texts(retried)

        bad = last_reply(
            answered(
                await w.host.slash(
                    w.channel, "schedule post", channel=w.channel, message="x", when="1h", if_late="maybe"
                )
            )
        )
        assert "is not a late policy" in texts(bad)

        # A good policy, and the outage summaries' log channel, need a worker (the member's time
        # zone, the settings store): answered within the bot's wait, saying nothing was confirmed.
        # Those calls wait on the Temporal server, which simcord cannot see: declared as such.
        monkeypatch.setattr(asyncio, "wait_for", wait_for_in_this_task)
        zone_of, set_log = TimeZones.for_user, LogChannel.set

        async def for_user(zones: TimeZones, *args: Any) -> str:
            zone: str = await w.env.external_wait(zone_of(zones, *args), reason="a read no worker answers")
            return zone

        async def set_channel(setting: LogChannel, *args: Any) -> None:
            await w.env.external_wait(set_log(setting, *args), reason="an update no worker takes")

        monkeypatch.setattr(TimeZones, "for_user", for_user)
        monkeypatch.setattr(LogChannel, "set", set_channel)
        for name, options in (
            (
                "schedule post",
                {"channel": w.channel, "message": "Later", "when": "1h", "if_late": "skip after 10m"},
            ),
            ("schedule log-channel", {"channel": w.channel}),
        ):
            waiting = answered(await w.host.slash(w.channel, name, **options))
            await w.env.advance_time(WORKER_WAIT + 1)
            await eventually(lambda: last_reply(waiting).content == NOT_ANSWERED)  # noqa: B023

        # Nothing was scheduled by the post that was not confirmed; the retried run waits for a worker.
        assert "Post: Later" not in [job.description for job in await w.bot.jobs.get_jobs(w.guild.id)]
        retried_run = await client.get_workflow_handle(job_id).describe()
        assert retried_run.status is not None and retried_run.status.name == "RUNNING"
        await client.get_workflow_handle(job_id).terminate(reason="test clean-up")
