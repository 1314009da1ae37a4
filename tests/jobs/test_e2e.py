"""End to end: the real dev server, `python worker.py` as a child process, and the fake Discord
that discord.py in the worker talks HTTP to. Jobs are a few seconds long, in real time."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from clients.jobs import Jobs, format_remaining
from stack.devserver import temporal_cli_path
from tests.support.stack import CHANNEL, GUILD, Stack
from tests.support.temporal import eventually
from workflows import search_attributes as sa
from workflows.jobs_models import JobResult, Reminder

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = 7003
QUICK_REMINDERS = [
    Reminder(offset=timedelta(seconds=6), message="6 seconds"),
    Reminder(offset=timedelta(seconds=4), message="4 seconds"),
    Reminder(offset=timedelta(seconds=2), message="2 seconds"),
]


async def test_three_reminders_and_the_action_give_exactly_four_posts(stack: Stack) -> None:
    client, discord_api, worker = stack.client, stack.discord, stack.worker
    jobs = Jobs(client, worker.env["TEMPORAL_TASK_QUEUE"])
    job_id = await jobs.schedule(
        "post_message",
        {"content": "🏁 Round 1 results are in!"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(seconds=8),
        reminders=QUICK_REMINDERS,
        description="Safari Round Results",
    )
    result = await client.get_workflow_handle(job_id, result_type=JobResult).result()

    posts = discord_api.messages()
    assert result.outcome == "done"
    assert [p.channel_id for p in posts] == [CHANNEL] * 4
    assert [p.content.split(" (<t:")[0] for p in posts[:3]] == [
        "⏰ **Safari Round Results** in 6 seconds",
        "⏰ **Safari Round Results** in 4 seconds",
        "⏰ **Safari Round Results** in 2 seconds",
    ]
    deadline = int((await scheduler_deadline(client, job_id)).timestamp())
    assert all(f"<t:{deadline}:R>" in p.content for p in posts[:3])
    assert posts[3].content == "🏁 Round 1 results are in!"
    assert all(p.nonce and len(str(p.nonce)) <= 25 for p in posts)


async def scheduler_deadline(client: Client, job_id: str) -> datetime:
    desc = await client.get_workflow_handle(job_id).describe()
    value = desc.typed_search_attributes.get(sa.JOB_DEADLINE)
    assert value is not None
    return value


async def timers_fired(client: Client, job_id: str) -> int:
    history = await client.get_workflow_handle(job_id).fetch_history()
    return sum(1 for event in history.events if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED)


async def test_kill_9_of_the_worker_loses_nothing_and_posts_nothing_twice(stack: Stack) -> None:
    client, discord_api, worker = stack.client, stack.discord, stack.worker
    jobs = Jobs(client, worker.env["TEMPORAL_TASK_QUEUE"])
    reminders = [
        Reminder(offset=timedelta(seconds=24), message="24 seconds"),
        Reminder(offset=timedelta(seconds=16), message="16 seconds"),
        Reminder(offset=timedelta(seconds=3), message="3 seconds"),
    ]
    job_id = await jobs.schedule(
        "post_message",
        {"content": "results after a crash"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(seconds=30),
        reminders=reminders,
        description="Crash test",
    )

    async def first_reminder_posted_and_the_next_timer_started() -> bool:
        # Discord has the post before the worker has recorded it and started the next timer: a
        # kill in between (a loaded machine widens it) leaves no timer to fire while it is away.
        if not discord_api.messages():
            return False
        events = (await client.get_workflow_handle(job_id).fetch_history()).events
        kinds = [event.event_type for event in events]
        fired = (
            kinds.index(EventType.EVENT_TYPE_TIMER_FIRED)
            if EventType.EVENT_TYPE_TIMER_FIRED in kinds
            else None
        )
        return fired is not None and EventType.EVENT_TYPE_TIMER_STARTED in kinds[fired:]

    await eventually(first_reminder_posted_and_the_next_timer_started, timeout=60)
    worker.kill()

    # The 16-second reminder falls due while no worker runs: the server records its timer's
    # firing (its own clock), which the first reminder's timer did before it.
    async def second_reminder_due() -> bool:
        return await timers_fired(client, job_id) >= 2

    await eventually(second_reminder_due, timeout=60)
    assert discord_api.messages()[-1].content.startswith("⏰ **Crash test** in 24 seconds")
    await worker.start_and_wait()
    result = await client.get_workflow_handle(job_id, result_type=JobResult).result()

    contents = [p.content.split(" (<t:")[0] for p in discord_api.messages()]
    assert contents == [
        "⏰ **Crash test** in 24 seconds",
        "⏰ **Crash test** in 16 seconds",
        "⏰ **Crash test** in 3 seconds",
        "results after a crash",
    ]
    assert result.outcome == "done"
    assert [r.outcome for r in result.reminders] == ["sent", "sent", "sent"]
    # The second was sent late (after the outage), but before the deadline.
    late = result.reminders[1]
    assert late.at > late.due and late.at < result.at


async def test_an_operator_cancels_a_job_from_the_cli_with_a_signal(stack: Stack) -> None:
    server, client, discord_api, worker = stack.server, stack.client, stack.discord, stack.worker
    jobs = Jobs(client, worker.env["TEMPORAL_TASK_QUEUE"])
    job_id = await jobs.schedule(
        "post_message",
        {"content": "never posted"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
        description="Wrong channel quiz",
    )
    signalled = subprocess.run(
        [
            str(temporal_cli_path()),
            "workflow",
            "signal",
            "--address",
            server.address,
            "--workflow-id",
            job_id,
            "--name",
            "operator_cancel",
            "--input",
            '{"by": "ops-cli", "reason": "posted in the wrong channel"}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert signalled.returncode == 0, signalled.stderr
    result = await asyncio.wait_for(client.get_workflow_handle(job_id, result_type=JobResult).result(), 60)

    assert result.outcome == "cancelled"
    assert (result.operator, result.reason) == ("ops-cli", "posted in the wrong channel")
    [notice] = [p for p in discord_api.messages() if "Wrong channel quiz" in p.content]
    assert "cancelled by ops-cli: posted in the wrong channel" in notice.content
    assert f"<@{HOST}>" in notice.content
    assert not any(p.content == "never posted" for p in discord_api.messages())


async def test_a_channel_that_is_gone_fails_the_job_with_discords_reason(stack: Stack) -> None:
    client, discord_api, worker = stack.client, stack.discord, stack.worker
    gone = 7999
    discord_api.add_channel(gone, GUILD)
    jobs = Jobs(client, worker.env["TEMPORAL_TASK_QUEUE"])
    job_id = await jobs.schedule(
        "post_message",
        {"content": "never seen"},
        guild_id=GUILD,
        channel_id=gone,
        scheduled_by=HOST,
        delay=timedelta(seconds=1),
        description="Doomed",
    )
    discord_api.remove_channel(gone)
    result = await client.get_workflow_handle(job_id, result_type=JobResult).result()

    assert result.outcome == "failed"
    assert result.reason is not None and "Unknown Channel" in result.reason
    # The channel refused, so the owner hears about it by DM.
    dms = discord_api.dms(HOST)
    assert len(dms) == 1 and "Doomed" in dms[0].content and "Unknown Channel" in dms[0].content


async def test_jobs_are_listed_sorted_and_show_their_named_timers(stack: Stack) -> None:
    server, client, worker = stack.server, stack.client, stack.worker
    jobs = Jobs(client, worker.env["TEMPORAL_TASK_QUEUE"])
    guild = 7100
    later = await jobs.schedule(
        "post_message",
        {"content": "b"},
        guild_id=guild,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=2),
        reminders=QUICK_REMINDERS,
        description="later",
    )
    sooner = await jobs.schedule(
        "post_message",
        {"content": "a"},
        guild_id=guild,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
        description="sooner",
        key="round-1",
    )

    async def both_listed() -> bool:
        return len(await jobs.get_jobs(guild)) == 2

    await eventually(both_listed)
    listed_jobs = await jobs.get_jobs(guild)
    assert [j.job_id for j in listed_jobs] == [sooner, later]
    assert [j.description for j in listed_jobs] == ["sooner", "later"]
    assert format_remaining(listed_jobs[0].deadline) in ("1h", "59m")
    assert [j.job_id for j in await jobs.get_jobs(guild, key="round-1")] == [sooner]

    # An operator sees it with the CLI...
    listed = subprocess.run(
        [
            str(temporal_cli_path()),
            "workflow",
            "list",
            "--address",
            server.address,
            "--query",
            f"GuildId = '{guild}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert later in listed and sooner in listed

    # ...and its pending timer is named for what it waits for (once the worker has taken the
    # job's first task: a loaded machine may list the job before that).
    async def timer_summaries() -> list[object]:
        history = await client.get_workflow_handle(later).fetch_history()
        return [
            (await client.data_converter.decode([event.user_metadata.summary]))[0]
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        ]

    async def timer_started() -> bool:
        return bool(await timer_summaries())

    await eventually(timer_started)
    assert await timer_summaries() == ["6 seconds reminder"]

    for job_id in (sooner, later):
        await jobs.cancel(job_id, by=HOST, guild_id=guild)


MESSAGES = r"^/channels/\d+/messages$"


async def reminder_and_results(stack: Stack, description: str, delay: float) -> tuple[str, datetime]:
    """A job with one reminder 3 s before its deadline; its id and that reminder's last moment."""
    jobs = Jobs(stack.client, stack.task_queue)
    job_id = await jobs.schedule(
        "post_message",
        {"content": f"{description} results"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(seconds=delay),
        reminders=[Reminder(offset=timedelta(seconds=3), message="3 seconds")],
        description=description,
    )
    return job_id, await scheduler_deadline(stack.client, job_id)


def posts_of(stack: Stack, description: str) -> list[str]:
    return [m.content.split(" (<t:")[0] for m in stack.discord.messages() if description in m.content]


async def test_a_reminder_discord_took_while_answering_500_is_recorded_sent(stack: Stack) -> None:
    # Discord takes the reminder, then answers 500 to it and to discord.py's resend (the nonce
    # keeps one message) until the reminder's last moment has passed.
    stack.discord.inject("POST", MESSAGES, 500, times=2, lose_response=True)
    job_id, _ = await reminder_and_results(stack, "Lost answer", delay=6)
    result = await stack.client.get_workflow_handle(job_id, result_type=JobResult).result()

    assert posts_of(stack, "Lost answer") == ["⏰ **Lost answer** in 3 seconds", "Lost answer results"]
    [reminder] = result.reminders
    assert reminder.outcome == "sent", reminder.reason


async def test_a_reminder_taken_just_before_a_kill_9_is_recorded_sent(stack: Stack) -> None:
    # Discord takes the reminder; its answer waits until the worker that asked is dead and the
    # reminder's last moment (the deadline) has passed, so the next worker may not post it.
    answer = stack.discord.hold("POST", MESSAGES, after_effect=True)
    job_id, deadline = await reminder_and_results(stack, "Killed answer", delay=6)
    await answer.wait_for(1, timeout=30)
    stack.worker.kill()
    answer.release()
    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds() + 1))
    await stack.worker.start_and_wait()
    result = await stack.client.get_workflow_handle(job_id, result_type=JobResult).result()

    assert posts_of(stack, "Killed answer") == ["⏰ **Killed answer** in 3 seconds", "Killed answer results"]
    [reminder] = result.reminders
    assert reminder.outcome == "sent", reminder.reason
