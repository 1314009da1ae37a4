"""The facade the bot uses: it refuses bad input before starting anything, and guards cancels."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.jobs import JobNotFound, Jobs, NotAllowed, SchedulingError, format_remaining
from clients.names import Names
from tests.support.jobs_doubles import SAFARI_REMINDERS, Doubles
from tests.support.temporal import eventually
from worker import build_worker
from workflows import search_attributes as sa
from workflows.jobs_actions import ActionSpec, register
from workflows.jobs_models import Reminder, run_tag

GUILD, OTHER_GUILD, CHANNEL, HOST, PLAYER = 501, 502, 503, 504, 505


@pytest.fixture
async def jobs(time_env: WorkflowEnvironment) -> AsyncIterator[Jobs]:
    doubles = Doubles(time_env)
    worker: Worker = build_worker(time_env.client, "facade", doubles.activities())
    async with worker:
        yield Jobs(time_env.client, "facade")


async def assert_not_started(env: WorkflowEnvironment, job_id: str) -> None:
    with pytest.raises(RPCError) as missing:
        await env.client.get_workflow_handle(job_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": timedelta(minutes=-5)}, "the time is in the past"),
        ({"delay": timedelta(days=366)}, "more than 365 days away"),
        (
            {"delay": timedelta(minutes=20), "reminders": SAFARI_REMINDERS},
            "'30 minutes' reminder would fall in the past",
        ),
        (
            {"delay": timedelta(hours=1), "action": "launch_rockets"},
            "no action named 'launch_rockets' is registered",
        ),
        ({"delay": timedelta(hours=1), "payload": {"content": ""}}, "bad payload for post_message: content"),
        ({"delay": timedelta(hours=1), "at": datetime.now(UTC)}, "give either a delay or a time"),
        (
            {"delay": timedelta(hours=1), "reminder_action": "nope", "reminders": SAFARI_REMINDERS},
            "no action named 'nope'",
        ),
        ({"delay": timedelta(hours=1), "key": "has spaces/and slashes"}, "key"),
        ({"delay": timedelta(hours=1), "action": "send_reminder"}, "send_reminder is a reminder action"),
        (
            {"delay": timedelta(hours=1), "reminder_action": "post_message", "reminders": SAFARI_REMINDERS},
            "post_message is not a reminder action",
        ),
        # Times that overflowed or were not times at all.
        ({"delay": timedelta.max}, "more than 365 days away"),
        ({"delay": None, "at": datetime.max.replace(tzinfo=timezone(timedelta(hours=5)))}, "more than 365"),
        ({"delay": None, "at": datetime(9999, 12, 31, tzinfo=UTC)}, "more than 365 days away"),
        ({"delay": 60.0}, "delay: must be a duration, like 90m"),
        ({"delay": None, "at": "tomorrow"}, "at: must be a date and time"),
        # Reminders: a handful, each at its own moment.
        (
            {
                "delay": timedelta(days=2),
                "reminders": [
                    Reminder(offset=timedelta(minutes=n), message=f"{n} min") for n in range(1, 12)
                ],
            },
            "11 reminders is too many; at most 10",
        ),
        (
            {
                "delay": timedelta(hours=2),
                "reminders": [Reminder(offset=timedelta(minutes=5), message="5")] * 100,
            },
            "100 reminders is too many",
        ),
        (
            {
                "delay": timedelta(hours=2),
                "reminders": [Reminder(offset=timedelta(minutes=5), message="5")] * 2,
            },
            "two reminders fall at the same moment",
        ),
        # Payloads: the action's fields only, and small.
        (
            {"delay": timedelta(hours=1), "payload": {"content": "hi", "webhook_url": "http://x"}},
            "unknown field(s) webhook_url",
        ),
        (
            {"delay": timedelta(hours=1), "payload": {"content": "x", "blob": "y" * 20_000}},
            "the limit is 16 KiB",
        ),
        (
            {"delay": timedelta(hours=1), "payload": {"content": float("nan")}},
            "holds a number that JSON cannot write",
        ),
        # Action names: short identifiers, never echoed back when they are not one.
        ({"delay": timedelta(hours=1), "action": "x" * 65}, "no action by that name is registered"),
        ({"delay": timedelta(hours=1), "action": "Post Message\x00"}, "no action by that name is registered"),
    ],
)
async def test_bad_input_is_refused_and_nothing_starts(
    time_env: WorkflowEnvironment, jobs: Jobs, kwargs: dict[str, object], message: str
) -> None:
    call: dict[str, object] = {
        "action": "post_message",
        "payload": {"content": "hello"},
        "key": "refused",
        **kwargs,
    }
    with pytest.raises(SchedulingError) as refused:
        await jobs.schedule(guild_id=GUILD, channel_id=CHANNEL, scheduled_by=HOST, **call)  # type: ignore[arg-type]
    assert message in str(refused.value)
    await assert_not_started(time_env, f"job-{GUILD}-{call['key']}")


@pytest.mark.parametrize("field", ["guild_id", "channel_id", "scheduled_by"])
@pytest.mark.parametrize("value", [0, -1, 2**64, True, 5101.0, "05101", "5101 ", "", None])
async def test_ids_that_are_not_discord_ids_are_refused(
    time_env: WorkflowEnvironment, jobs: Jobs, field: str, value: object
) -> None:
    ids: dict[str, object] = {"guild_id": GUILD, "channel_id": CHANNEL, "scheduled_by": HOST, field: value}
    with pytest.raises(SchedulingError) as refused:
        await jobs.schedule(
            "post_message",
            {"content": "x"},
            delay=timedelta(hours=1),
            key="refused",
            **ids,  # type: ignore[arg-type]
        )
    assert str(refused.value).startswith(f"{field.replace('_', ' ')}: a Discord id")
    for guild in {str(ids["guild_id"]), str(GUILD), "1", "5101"}:
        await assert_not_started(time_env, f"job-{guild}-refused")


async def test_an_18_digit_id_is_a_json_string_in_the_history(
    time_env: WorkflowEnvironment, jobs: Jobs
) -> None:
    """The Web UI and `temporal workflow show --output json` are JavaScript or print JSON: a
    number past 2^53 would lose digits there, so ids travel as strings."""
    guild, channel, user = 123456789012345678, 876543210987654321, 999999999999999999
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=guild,
        channel_id=channel,
        scheduled_by=user,
        delay=timedelta(hours=1),
    )
    history = await time_env.client.get_workflow_handle(job_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    codec = time_env.client.data_converter.payload_codec
    assert codec is not None
    [raw] = await codec.decode(list(started.input.payloads))
    spec = json.loads(raw.data)
    assert (spec["guild_id"], spec["channel_id"], spec["scheduled_by"]) == (
        str(guild),
        str(channel),
        str(user),
    )
    status = await jobs.status(job_id)
    assert (status.guild_id, status.channel_id, status.scheduled_by) == (guild, channel, user)


@pytest.mark.parametrize(
    "filters",
    [
        {"action": "post_message\x00"},
        {"action": "x" * 65},
        {"key": "round\x01"},
        {"key": "k" * 81},
        {"channel_id": "1; DROP"},
        {"scheduled_by": -5},
    ],
)
async def test_list_filters_are_checked_before_any_query(jobs: Jobs, filters: dict[str, object]) -> None:
    with pytest.raises(SchedulingError):
        await jobs.get_jobs(GUILD, **filters)  # type: ignore[arg-type]


@pytest.mark.parametrize("job_id", ["", "job-", "whisper-1-abc", f"job-{GUILD}-a b", "job-1-\x00", "j" * 300])
async def test_status_of_something_that_is_not_a_job_says_so(jobs: Jobs, job_id: str) -> None:
    with pytest.raises(JobNotFound):
        await jobs.status(job_id)


async def test_status_of_a_job_that_never_existed(jobs: Jobs) -> None:
    with pytest.raises(JobNotFound):
        await jobs.status(f"job-{GUILD}-never")


@pytest.mark.wall_clock
async def test_a_cancel_reason_too_long_is_refused_and_the_job_stays(jobs: Jobs) -> None:
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
    )
    with pytest.raises(SchedulingError, match="reason: must be at most 200 characters long"):
        await jobs.cancel(job_id, by=HOST, guild_id=GUILD, reason="r" * 201)
    with pytest.raises(SchedulingError, match="by: a Discord id"):
        await jobs.cancel(job_id, by=0, guild_id=GUILD)
    assert (await jobs.status(job_id)).state == "waiting"


@pytest.mark.parametrize("name", ["x" * 65, "Post", "post-message", "", "1st", "a\x00"])
def test_an_action_name_must_be_a_short_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="an action name is"):
        register(ActionSpec(name))


async def test_a_keyed_job_cannot_be_scheduled_twice(jobs: Jobs) -> None:
    await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
        key="round-1",
    )
    with pytest.raises(SchedulingError, match="already scheduled"):
        await jobs.schedule(
            "post_message",
            {"content": "x"},
            guild_id=GUILD,
            channel_id=CHANNEL,
            scheduled_by=HOST,
            delay=timedelta(hours=2),
            key="round-1",
        )
    assert await jobs.cancel_by_key("round-1", guild_id=GUILD, by=HOST)
    assert not await jobs.cancel_by_key("round-2", guild_id=GUILD, by=HOST)


@pytest.mark.wall_clock
async def test_cancel_is_guarded_by_guild_and_owner(jobs: Jobs) -> None:
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=PLAYER,
        delay=timedelta(hours=1),
        reminders=[Reminder(offset=timedelta(minutes=5), message="5 minutes")],
    )
    with pytest.raises(NotAllowed, match="another server"):
        await jobs.cancel(job_id, by=HOST, guild_id=OTHER_GUILD, as_host=True)
    with pytest.raises(NotAllowed, match="only a host or the user who scheduled"):
        await jobs.cancel(job_id, by=HOST, guild_id=GUILD)
    assert (await jobs.status(job_id)).state == "waiting"

    cancelled = await jobs.cancel(job_id, by=PLAYER, guild_id=GUILD)
    assert cancelled.state == "cancelled"
    with pytest.raises((NotAllowed, JobNotFound)):
        await jobs.cancel(job_id, by=PLAYER, guild_id=GUILD)


@pytest.mark.wall_clock
async def test_a_cancel_for_an_earlier_run_is_refused_by_the_later_one(
    time_env: WorkflowEnvironment, jobs: Jobs
) -> None:
    """A keyed job's id is reused by its next run: a cancel naming the earlier run (as a Cancel
    button drawn from a listing does) is refused by the workflow itself, and the run waits on."""

    async def round_and_its_run() -> tuple[str, str]:
        job_id = await jobs.schedule(
            "post_message",
            {"content": "x"},
            guild_id=GUILD,
            channel_id=CHANNEL,
            scheduled_by=PLAYER,
            delay=timedelta(hours=1),
            key="round",
        )
        return job_id, run_tag((await time_env.client.get_workflow_handle(job_id).describe()).run_id)

    first, earlier = await round_and_its_run()
    await jobs.cancel(first, by=PLAYER, guild_id=GUILD, run=earlier)
    await time_env.client.get_workflow_handle(first).result()
    again, current = await round_and_its_run()
    assert again == first
    with pytest.raises(NotAllowed, match="earlier run of this job"):
        await jobs.cancel(again, by=PLAYER, guild_id=GUILD, run=earlier)
    assert (await jobs.status(again)).state == "waiting"
    assert (await jobs.cancel(again, by=PLAYER, guild_id=GUILD, run=current)).state == "cancelled"


@pytest.mark.wall_clock
async def test_reschedule_moves_the_deadline(time_env: WorkflowEnvironment, jobs: Jobs) -> None:
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
    )
    with pytest.raises(SchedulingError, match="in the past"):
        await jobs.reschedule(job_id, by=HOST, guild_id=GUILD, delay=timedelta(minutes=-1))
    status = await jobs.reschedule(job_id, by=HOST, guild_id=GUILD, delay=timedelta(hours=3))
    assert status.deadline - datetime.now(UTC) > timedelta(hours=2, minutes=59)


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(days=2, hours=3, minutes=4, seconds=1), "2d 3h 4m"),
        (timedelta(minutes=44, seconds=30), "45m"),
        (timedelta(hours=4), "4h"),
        (timedelta(seconds=37), "less than a minute"),
        (timedelta(0), "due now"),
        (timedelta(minutes=-3), "due now"),
    ],
)
def test_remaining_time_is_rounded_to_the_minute(left: timedelta, shown: str) -> None:
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert format_remaining(now + left, now) == shown


async def test_a_job_is_dispatched_under_its_guilds_fairness_key(
    jobs: Jobs, time_env: WorkflowEnvironment
) -> None:
    """With task-queue fairness on, one guild's burst of jobs cannot hold back another guild's."""
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
    )
    events = [e async for e in time_env.client.get_workflow_handle(job_id).fetch_history_events()]
    started = events[0].workflow_execution_started_event_attributes
    assert started.priority.fairness_key == str(GUILD)


async def test_the_web_ui_reads_the_channel_and_scheduler_by_name(
    time_env: WorkflowEnvironment, jobs: Jobs
) -> None:
    """Once every summary an operator read held bare ids: the names the bot saw are beside them,
    in the job's summary, its Title search attribute and its timers' summaries."""
    # The deadline on the test server's clock, which runs ahead once other tests skipped time.
    now = await time_env.get_current_time()
    jobs = Jobs(time_env.client, "facade", clock=lambda: now)
    job_id = await jobs.schedule(
        "post_message",
        {"content": "x"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
        description="Post: x",
        names=Names(channel="safari", member="Hana"),
    )
    handle = time_env.client.get_workflow_handle(job_id)
    described = await handle.describe()
    assert await described.static_summary() == (
        f"Post: x in #safari ({CHANNEL}) by Hana ({HOST}), deadline "
        f"{(await jobs.status(job_id)).deadline:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert described.typed_search_attributes.get(sa.TITLE) == "Post: x in #safari by Hana"

    async def timer_summary() -> str | None:
        for event in (await handle.fetch_history()).events:
            if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                [summary] = await time_env.client.data_converter.decode([event.user_metadata.summary])
                return str(summary)
        return None

    await eventually(lambda: _is_set(timer_summary()), 10)
    assert await timer_summary() == "deadline in #safari"


async def _is_set(found: Awaitable[str | None]) -> bool:
    return await found is not None
