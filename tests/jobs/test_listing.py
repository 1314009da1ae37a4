"""One page of a guild's jobs, soonest first, found by counting: the same jobs, in the same
order, as listing them all and slicing, whatever the page, the ties and the filters.

On the real dev server (the time-skipping server has no visibility counts); nothing polls the
queue, so every job just waits where it was started."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client

from clients import jobs_listing
from clients.jobs import Jobs, SchedulingError
from clients.jobs_listing import LIST_ALL
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL, SECRET_CHANNEL, HOST = 701, 702, 703
SIZE = 6


async def populate(jobs: Jobs, guild: int, count: int) -> list[str]:
    """`count` jobs in random order over three days, some sharing one instant, a quarter of
    them in another channel; plus jobs of another guild that must never show."""
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    rng = random.Random(guild)
    moments = [base + timedelta(seconds=rng.randrange(3 * 24 * 3600)) for _ in range(count - 8)]
    moments += [base + timedelta(hours=30)] * 8  # eight jobs due at the same instant
    rng.shuffle(moments)
    ids = []
    for n, at in enumerate(moments):
        ids.append(
            await jobs.schedule(
                "post_message",
                {"content": f"job {n}"},
                guild_id=guild,
                channel_id=SECRET_CHANNEL if n % 4 == 0 else CHANNEL,
                scheduled_by=HOST,
                at=at,
                description=f"job {n}",
            )
        )
    for n in range(3):
        await jobs.schedule(
            "post_message",
            {"content": "elsewhere"},
            guild_id=guild + 1,
            channel_id=CHANNEL,
            scheduled_by=HOST,
            at=base + timedelta(minutes=n),
        )

    async def all_visible() -> bool:
        return len(await jobs.get_jobs(guild)) == count

    await eventually(all_visible)
    return ids


async def test_every_page_is_the_slice_of_the_whole_sorted_list(client: Client) -> None:
    jobs = Jobs(client, f"nobody-{uuid.uuid4().hex[:6]}")
    guild = random.randrange(10**17, 10**18)
    count = LIST_ALL + 25  # enough that a page is found by counting, not by listing them all
    await populate(jobs, guild, count)
    everything = [job.job_id for job in await jobs.get_jobs(guild)]
    pages = -(-count // SIZE)
    seen: list[str] = []
    for page in range(pages):
        listed = await jobs.page_jobs(guild, page=page, size=SIZE)
        assert (listed.page, listed.pages, listed.total) == (page, pages, count)
        assert [job.job_id for job in listed.jobs] == everything[page * SIZE : (page + 1) * SIZE]
        seen += [job.job_id for job in listed.jobs]
    assert seen == everything  # nothing skipped or shown twice, ties included

    # Past the end: the last page, not an empty one.
    last = await jobs.page_jobs(guild, page=pages + 3, size=SIZE)
    assert last.page == pages - 1 and [j.job_id for j in last.jobs] == everything[(pages - 1) * SIZE :]


async def test_paging_on_starts_from_the_page_before_and_shows_the_same(client: Client) -> None:
    """A page's bounds seed the next search of the same query (PageHints): Refresh and Next
    take fewer counts than a page drawn cold, and every page is still its slice, in any order."""
    guild = random.randrange(10**17, 10**18)
    count = LIST_ALL + 25
    await populate(Jobs(client, "populate"), guild, count)
    jobs = Jobs(client, f"nobody-{uuid.uuid4().hex[:6]}")
    everything = [job.job_id for job in await jobs.get_jobs(guild)]
    pages = -(-count // SIZE)

    async def shown(page: int, via: Jobs) -> int:
        listed = await via.page_jobs(guild, page=page, size=SIZE)
        assert [job.job_id for job in listed.jobs] == everything[page * SIZE : (page + 1) * SIZE]
        return listed.counts

    cold = [await shown(page, Jobs(client, "cold")) for page in (3, 4)]
    assert await shown(3, jobs) == cold[0]  # nothing to start from yet
    assert await shown(3, jobs) < cold[0]  # Refresh
    assert await shown(4, jobs) < cold[1]  # Next
    for page in random.Random(guild).sample(range(pages), pages):  # and any order after that
        await shown(page, jobs)


async def test_a_page_filters_by_channel_and_leaves_out_what_was_just_cancelled(client: Client) -> None:
    jobs = Jobs(client, f"nobody-{uuid.uuid4().hex[:6]}")
    guild = random.randrange(10**17, 10**18)
    await populate(jobs, guild, LIST_ALL + 1)
    everything = await jobs.get_jobs(guild)
    public = [job.job_id for job in everything if job.channel_id == CHANNEL]

    shown = await jobs.page_jobs(guild, page=1, size=SIZE, channels=[CHANNEL])
    assert shown.total == len(public)
    assert [job.job_id for job in shown.jobs] == public[SIZE : 2 * SIZE]
    hidden = await jobs.page_jobs(guild, page=1, size=SIZE, hidden_channels=[SECRET_CHANNEL])
    assert hidden.jobs == shown.jobs
    assert (await jobs.page_jobs(guild, page=0, size=SIZE, channels=[])).total == 0

    gone = public[0]
    without = await jobs.page_jobs(guild, page=0, size=SIZE, channels=[CHANNEL], exclude=[gone])
    assert [job.job_id for job in without.jobs] == public[1 : SIZE + 1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": 101},
        {"channels": ["1; DROP"]},
        {"hidden_channels": [-1]},
        {"exclude": ["x' OR '1"]},
    ],
)
async def test_page_filters_are_checked_before_any_query(client: Client, kwargs: dict[str, object]) -> None:
    jobs = Jobs(client, "nobody")
    options: dict[str, object] = {"page": 0, "size": SIZE, **kwargs}
    with pytest.raises(SchedulingError):
        await jobs.page_jobs(12345, **options)  # type: ignore[arg-type]


class _Shrunk(jobs_listing._Counter):
    """Counts as after jobs ended while the page was drawn: never as many as the total said."""

    def __init__(self) -> None:
        self.known = {}

    async def before(self, moment: datetime) -> int:
        self.known[moment] = 3
        return 3


async def test_a_bound_that_the_jobs_no_longer_reach_leaves_the_window_open() -> None:
    now = datetime.now(UTC)
    early, late = await jobs_listing._bracket(_Shrunk(), now, low=10, high=30)
    # No instant has 10 jobs before it any more: the end stays open rather than searched forever.
    assert late is None and early is not None and early[1] == 3
