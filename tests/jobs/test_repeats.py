"""Repeats on Temporal Schedules, on the real dev server (the time-skipping one has no schedules):
the times they fire in a named zone across daylight-saving time, reminders before each
occurrence, skip, change, pause, a count, and each occurrence a job like any other."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.jobs import JOB_ID_PATTERN, Jobs, SchedulingError
from clients.repeats import Repeats
from tests.support.jobs_doubles import Doubles, assert_near
from tests.support.temporal import eventually
from worker import build_worker
from workflows.common import NotYours
from workflows.jobs_actions import POST_MESSAGE
from workflows.jobs_models import Reminder
from workflows.times import TimeError

pytestmark = pytest.mark.asyncio(loop_scope="module")
QUEUE = f"repeats-{uuid.uuid4().hex[:8]}"
GUILD, CHANNEL, HOST, PLAYER = 111, 222, 333, 444
WINTER = datetime(2027, 1, 4, tzinfo=UTC)
SUMMER = datetime(2027, 6, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest_asyncio.fixture(loop_scope="module")
async def doubles(client: Client) -> AsyncIterator[Doubles]:
    doubles = Doubles(WorkflowEnvironment.from_client(client))
    async with build_worker(client, QUEUE, doubles.activities()):
        yield doubles


def repeats(client: Client) -> Repeats:
    return Repeats(client, QUEUE, shortest=timedelta(seconds=1))


async def create(client: Client, name: str, every: str, **kwargs: object) -> None:
    await repeats(client).create(
        name,
        every,
        zone=str(kwargs.pop("zone", "Europe/Paris")),
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        action=POST_MESSAGE,
        payload={"content": "Game night!"},
        description="Game night",
        **kwargs,  # type: ignore[arg-type]
    )


async def test_every_friday_in_paris_fires_at_19_utc_in_winter_and_18_in_summer(client: Client) -> None:
    await create(client, "winter", "every Friday 20:00", start_at=WINTER)
    await create(client, "summer", "every Friday 20:00", start_at=SUMMER)
    winter = await repeats(client).info(GUILD, "winter")
    summer = await repeats(client).info(GUILD, "summer")

    assert winter.every == "every Friday at 20:00" and winter.zone == "Europe/Paris"
    assert winter.next_times and all(
        t.weekday() == 4 and (t.hour, t.minute) == (19, 0) for t in winter.next_times
    )
    assert summer.next_times and all(
        t.weekday() == 4 and (t.hour, t.minute) == (18, 0) for t in summer.next_times
    )
    for name in ("winter", "summer"):
        await repeats(client).end(GUILD, name, by=HOST)


async def test_reminders_move_the_firing_before_the_occurrence(client: Client) -> None:
    await create(
        client,
        "early",
        "every Monday 00:30",
        start_at=WINTER,
        reminders=[Reminder(offset=timedelta(hours=1), message="1 hour")],
    )
    info = await repeats(client).info(GUILD, "early")
    # Shown as the posts: Monday 00:30 in Paris, 23:30 UTC on Sunday...
    assert info.next_times and all(
        t.weekday() == 6 and (t.hour, t.minute) == (23, 30) for t in info.next_times
    )
    # ...fired an hour before each, for its reminder: 22:30 UTC.
    fires = (await repeats(client).handle(GUILD, "early").describe()).info.next_action_times
    assert fires == [t - timedelta(hours=1) for t in info.next_times]
    skipped = await repeats(client).skip_next(GUILD, "early", by=HOST)
    assert skipped == info.next_times[0]
    await repeats(client).end(GUILD, "early", by=HOST)


async def test_a_repeat_given_its_first_time_starts_there(client: Client) -> None:
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2, minutes=13)
    hour = [Reminder(offset=timedelta(hours=1), message="1h")]
    # "From 20:00, every 6h": counted from the first time, not from midnight.
    await create(client, "from-first", "every 6h", first=soon, reminders=hour)
    info = await repeats(client).info(GUILD, "from-first")
    assert info.next_times[:3] == [soon + timedelta(hours=6 * n) for n in range(3)]
    # A daily one starts on the day given: nothing before it.
    later = soon + timedelta(days=3)
    await create(client, "daily-from", f"every day at {later.astimezone(PARIS):%H:%M}", first=later)
    assert (await repeats(client).info(GUILD, "daily-from")).next_times[0] == later
    # A first time too close for its reminders is refused before anything exists.
    with pytest.raises(SchedulingError, match=r"^the first one is too soon for its reminders \(1h before\)"):
        await create(
            client, "too-soon", "every 6h", first=datetime.now(UTC) + timedelta(minutes=30), reminders=hour
        )
    assert "too-soon" not in await repeats(client).names(GUILD)
    for name in ("from-first", "daily-from"):
        await repeats(client).end(GUILD, name, by=HOST)


async def test_an_occurrence_is_a_job_due_lead_after_it_starts(client: Client, doubles: Doubles) -> None:
    await create(
        client, "soon", "every day at 09:00", reminders=[Reminder(offset=timedelta(hours=1), message="1h")]
    )
    started = datetime.now(UTC)
    await repeats(client).run_now(GUILD, "soon", by=HOST)
    jobs = Jobs(client, QUEUE)

    async def one() -> bool:
        return len(await jobs.get_jobs(GUILD, key=None)) >= 1

    await eventually(one)
    (job,) = [j for j in await jobs.get_jobs(GUILD) if "rp.soon" in j.job_id]
    assert re.fullmatch(JOB_ID_PATTERN, job.job_id)
    status = await jobs.status(job.job_id)
    assert_near(status.deadline, started + timedelta(hours=1), timedelta(seconds=10))
    # Its job carries who made the repeat: its workflow refuses a member who is neither them
    # nor a host, whoever sends the update.
    with pytest.raises(SchedulingError, match="only a host or the user who scheduled"):
        await jobs.shift(job.job_id, timedelta(minutes=30), by=PLAYER, guild_id=GUILD, as_host=False)
    # Moved, like any job.
    moved = await jobs.shift(job.job_id, timedelta(minutes=30), by=HOST, guild_id=GUILD, as_host=True)
    assert moved.deadline == status.deadline + timedelta(minutes=30)
    await jobs.cancel(job.job_id, by=HOST, guild_id=GUILD, as_host=True)
    await repeats(client).end(GUILD, "soon", by=HOST)


async def test_skip_the_next_change_the_pattern_pause_and_end(client: Client) -> None:
    await create(client, "steer", "every day at 09:00", start_at=WINTER)
    before = await repeats(client).info(GUILD, "steer")
    skipped = await repeats(client).skip_next(GUILD, "steer", by=HOST)
    after = await repeats(client).info(GUILD, "steer")
    assert skipped == before.next_times[0]
    assert after.next_times[0] == before.next_times[1]

    changed = await repeats(client).change(
        GUILD, "steer", "every Wednesday 18:30", zone="America/New_York", by=HOST
    )
    assert changed.zone == "America/New_York" and changed.every == "every Wednesday at 18:30"
    # 18:30 in New York in winter is 23:30 UTC.
    assert all(t.weekday() == 2 and (t.hour, t.minute) == (23, 30) for t in changed.next_times)

    assert (await repeats(client).pause(GUILD, "steer", by=HOST)).paused
    assert not (await repeats(client).resume(GUILD, "steer", by=HOST)).paused
    await repeats(client).end(GUILD, "steer", by=HOST)
    with pytest.raises(SchedulingError, match="no repeat named"):
        await repeats(client).info(GUILD, "steer")


async def test_an_occurrence_posts_its_earliest_reminder(client: Client, doubles: Doubles) -> None:
    """A reminder as early as the repeat's lead is due the very moment its schedule fires; the
    occurrence, started a moment later, planned its reminders from its own start and dropped it."""
    sent, posted = len(doubles.reminders), len(doubles.actions)
    reminders = [Reminder(offset=timedelta(seconds=1), message="a second")]
    await create(client, "reminded", "every 2s", count=1, reminders=reminders)

    async def posted_once() -> bool:
        return len(doubles.actions) > posted

    await eventually(posted_once, timeout=20)
    assert [message for message, _ in doubles.reminders[sent:]] == ["a second"]
    await repeats(client).end(GUILD, "reminded", by=HOST)


async def test_a_repeat_ends_after_its_count(client: Client, doubles: Doubles) -> None:
    posted = len(doubles.actions)
    await create(client, "twice", "every 2s", count=2)
    assert (await repeats(client).info(GUILD, "twice")).remaining == 2

    async def both() -> bool:
        return len(doubles.actions) - posted >= 2

    await eventually(both, timeout=20)
    await asyncio.sleep(5)  # a third would have fired by now
    assert len(doubles.actions) - posted == 2
    assert (await repeats(client).info(GUILD, "twice")).remaining == 0
    await repeats(client).end(GUILD, "twice", by=HOST)


async def test_bad_repeats_are_refused_with_the_reason(client: Client) -> None:
    with pytest.raises(TimeError, match="not a day of the week"):
        await create(client, "bad", "every funday 20:00")
    with pytest.raises(SchedulingError, match="name"):
        await create(client, "Bad Name!", "every day at 09:00")
    await create(client, "dup", "every day at 09:00", start_at=WINTER)
    with pytest.raises(SchedulingError, match="already exists"):
        await create(client, "dup", "every day at 09:00")
    await repeats(client).end(GUILD, "dup", by=HOST)


async def test_a_players_own_request_to_change_a_hosts_repeat_is_refused_without_the_bot(
    client: Client, doubles: Doubles
) -> None:
    """Straight to the repeats client, as a member who is not a host would send it (no bot in
    between): every change is refused and the schedule is as it was; a host may, and so may the
    member who made it; another server cannot even find it."""
    await create(client, "guarded", "every day at 09:00", start_at=WINTER)
    mine = repeats(client)
    before = await mine.info(GUILD, "guarded")
    posted = len(doubles.actions)
    refusals: list[Callable[[], Awaitable[object]]] = [
        lambda: mine.pause(GUILD, "guarded", by=PLAYER),
        lambda: mine.resume(GUILD, "guarded", by=PLAYER),
        lambda: mine.skip_next(GUILD, "guarded", by=PLAYER),
        lambda: mine.run_now(GUILD, "guarded", by=PLAYER),
        lambda: mine.change(GUILD, "guarded", "every 6h", zone="UTC", by=PLAYER),
        lambda: mine.end(GUILD, "guarded", by=PLAYER),
    ]
    for request in refusals:
        with pytest.raises(NotYours, match="only a host or the member who made this repeat"):
            await request()
    assert await mine.info(GUILD, "guarded") == before
    assert len(doubles.actions) == posted
    with pytest.raises(SchedulingError, match="no repeat named"):
        await mine.pause(GUILD + 1, "guarded", by=HOST, as_host=True)

    # A host who did not make it may; so may its maker.
    assert (await mine.pause(GUILD, "guarded", by=PLAYER, as_host=True)).paused
    assert not (await mine.resume(GUILD, "guarded", by=HOST)).paused
    await mine.end(GUILD, "guarded", by=HOST)
