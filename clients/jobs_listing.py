"""Listing a guild's waiting jobs from the visibility store: every one, or one page, soonest first.

The SQL visibility store has no ORDER BY, and a listed row costs about 0.5 ms (server and
client: its memo and six search attributes), so listing a guild's 1,000 jobs to show 6 took
over a second. A count over a JobDeadline range returns no rows and walks only the guild's jobs
(`_deadline`), so a page is found by counting: search the deadline for the instants before
which at least `first` and at most `first + size` jobs fall, then list only the jobs between
them (a few rows) and sort those. Measured in bench/README.md ("Waiting at scale").
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from workflows import search_attributes as sa
from workflows.jobs_models import PAUSED_MEMO, job_prefix

# Up to this many jobs, listing them all costs less than counting (~40 ms on 2 cores).
LIST_ALL = 100
# A page window may hold this many rows more than the page before it is narrowed further.
SLACK = 24
# Counts spent on one page; past it the window is listed as it is (still correct, longer).
MAX_PROBES = 40
# The search starts this far from now and widens sixteenfold: past a year in 5 steps. No job
# is due further than HORIZON either way (MAX_DELAY ahead; overdue ones end within days).
FIRST_STEP = timedelta(minutes=15)
WIDEN = 16
HORIZON = timedelta(days=4 * 365)


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    action: str
    guild_id: int
    channel_id: int
    deadline: datetime
    scheduled_by: int
    key: str | None
    description: str
    # The run listed ("" when not known): a Cancel button drawn from this summary reaches this
    # run only, not a later one that reuses a keyed job's id.
    run_id: str = ""
    # Paused: the time it had left (its deadline is stale until it is resumed).
    paused_left: timedelta | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[JobSummary]  # this page, soonest first
    page: int  # the page shown: the one asked for, or the last one if it was past the end
    pages: int  # at least 1
    total: int  # jobs matching the filter
    counts: int = 1  # visibility counts it took, the total's included: what the page cost


def quote(value: str) -> str:
    """A string literal of the visibility query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _instant(moment: datetime) -> str:
    return quote(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _ids(values: Collection[int]) -> str:
    return "(" + ", ".join(quote(str(int(v))) for v in values) + ")"


def job_query(
    guild_id: int,
    *,
    action: str | None = None,
    channel_id: int | None = None,
    key: str | None = None,
    scheduled_by: int | None = None,
    channels: Collection[int] | None = None,
    hidden_channels: Collection[int] = (),
    exclude: Collection[str] = (),
) -> str:
    """The visibility query for a guild's running jobs. `channels`: only jobs in these channels;
    `hidden_channels`: none in these; `exclude`: not these job ids (just cancelled, for instance:
    visibility lags a moment behind). Every value is quoted; the Jobs client checks them first,
    so that a bad one is refused with a message rather than matching nothing."""
    # The SQL visibility store indexes one column at a time, and SQLite picks the index of an
    # equality on WorkflowType or ExecutionStatus (every running workflow of the namespace:
    # 20-60 ms at 10,000) over the guild's. The job id prefix (type and guild) and CloseTime IS
    # NULL (running) say the same with no index, so the guild's is the one used (~1 ms).
    clauses = [
        f"{sa.GUILD_ID.name} = {quote(str(int(guild_id)))}",
        f"WorkflowId STARTS_WITH {quote(job_prefix(int(guild_id)))}",
        "CloseTime IS NULL",
    ]
    if action:
        clauses.append(f"{sa.JOB_ACTION.name} = {quote(action)}")
    if channel_id:
        clauses.append(f"{sa.CHANNEL_ID.name} = {quote(str(int(channel_id)))}")
    if key:
        clauses.append(f"{sa.JOB_KEY.name} = {quote(key)}")
    if scheduled_by:
        clauses.append(f"{sa.SCHEDULED_BY.name} = {quote(str(int(scheduled_by)))}")
    if channels is not None:
        # IN () is not valid: no channel at all matches nothing.
        clauses.append(f"{sa.CHANNEL_ID.name} IN {_ids(channels)}" if channels else "WorkflowId = ''")
    if hidden_channels:
        clauses.append(f"{sa.CHANNEL_ID.name} NOT IN {_ids(hidden_channels)}")
    if exclude:
        clauses.append("WorkflowId NOT IN (" + ", ".join(quote(i) for i in exclude) + ")")
    return " AND ".join(clauses)


async def _summary(execution: WorkflowExecution, guild_id: int) -> JobSummary | None:
    attrs = execution.typed_search_attributes
    deadline = attrs.get(sa.JOB_DEADLINE)
    if execution.status != WorkflowExecutionStatus.RUNNING or deadline is None:
        return None
    memo = await execution.memo()
    paused = memo.get(PAUSED_MEMO)
    return JobSummary(
        job_id=execution.id,
        action=attrs.get(sa.JOB_ACTION) or "",
        guild_id=int(attrs.get(sa.GUILD_ID) or guild_id),
        channel_id=int(attrs.get(sa.CHANNEL_ID) or 0),
        deadline=deadline,
        scheduled_by=int(attrs.get(sa.SCHEDULED_BY) or 0),
        key=attrs.get(sa.JOB_KEY),
        description=str(memo.get("description", "")),
        run_id=execution.run_id,
        paused_left=timedelta(seconds=paused) if isinstance(paused, int | float) else None,
    )


async def list_jobs(client: Client, query: str, guild_id: int) -> list[JobSummary]:
    """Every job the query matches, soonest first."""
    jobs = [
        job
        async for execution in client.list_workflows(query)
        if (job := await _summary(execution, guild_id))
    ]
    return sorted(jobs, key=lambda job: (job.deadline, job.job_id))


def _deadline(op: str, moment: datetime) -> str:
    """A JobDeadline bound that leaves the guild's index in charge. Given a range on the
    deadline and an equality on the guild, SQLite picks the deadline's index and walks every
    guild's jobs in the range, reading each row's guild from its JSON. Or'ed with a term no job
    matches (no job has an empty guild) the bound is no longer a plain range, SQLite uses the
    guild's index instead, and a count walks that guild's jobs alone: at 100,000 jobs a page
    took 154 ms instead of 811 (EXPLAIN QUERY PLAN and timings in bench/README.md, "Waiting at
    scale"). The result is the same: on any store the added term matches nothing."""
    return f"({sa.JOB_DEADLINE.name} {op} {_instant(moment)} OR {sa.GUILD_ID.name} = '')"


class _Counter:
    """Counts of the query's jobs due before an instant, each remembered (a page's two bounds
    share them; their number is the probes made)."""

    def __init__(self, client: Client, query: str) -> None:
        self.client = client
        self.query = query
        self.known: dict[datetime, int] = {}

    async def before(self, moment: datetime) -> int:
        if moment not in self.known:
            query = f"{self.query} AND {_deadline('<', moment)}"
            self.known[moment] = (await self.client.count_workflows(query)).count
        return self.known[moment]


Probe = tuple[datetime, int]  # an instant and how many jobs are due before it


class PageHints:
    """The instants that recent pages of each query were bounded by, for a few minutes. A page
    of the same query counts them first, so paging on (Next, Previous, Refresh) narrows from a
    tight bracket instead of searching from now: 13-22 counts a page become a handful. Only
    instants are kept, never counts, and every count is made afresh: a hint can make a page
    cheaper, never wrong."""

    def __init__(self, *, keep: float = 300.0, queries: int = 1024) -> None:
        self.keep = keep  # seconds
        self.queries = queries
        self._kept: OrderedDict[str, tuple[float, list[datetime]]] = OrderedDict()

    def get(self, query: str) -> list[datetime]:
        kept = self._kept.get(query)
        if kept is None or time.monotonic() - kept[0] > self.keep:
            return []
        return kept[1]

    def put(self, query: str, moments: list[datetime]) -> None:
        self._kept[query] = (time.monotonic(), moments)
        self._kept.move_to_end(query)
        while len(self._kept) > self.queries:
            self._kept.popitem(last=False)


async def _bracket(
    counter: _Counter, now: datetime, low: int, high: int
) -> tuple[Probe | None, Probe | None]:
    """Two counted instants `early`, `late`: both the same one if it has between `low` and `high`
    jobs due before it; otherwise count(early) < low and count(late) > high, because the probe
    budget ran out or the two are a microsecond apart (jobs due at one instant), and the caller
    takes the side that keeps its window whole. A side is None when no job lies beyond HORIZON
    that way to bound it (jobs that ended while the page was drawn can leave the target short).
    Counts the page's other bound made are reused."""
    step, halve, gap = FIRST_STEP, False, timedelta.max
    while True:
        known = counter.known.items()
        hit = next(((m, c) for m, c in known if low <= c <= high), None)
        if hit is not None:
            return hit, hit
        early = max(((m, c) for m, c in known if c < low), default=None)
        late = min(((m, c) for m, c in known if c > high), default=None)
        if early is None or late is None:
            # Widen until the bracket holds the target, from what is known or from now.
            if step > HORIZON:
                return early, late
            if early is not None:
                moment = max(early[0], now) + step
            elif late is not None:
                moment = min(late[0], now) - step
            else:
                moment, step = now, step // WIDEN  # the first probe: now, then FIRST_STEP away
            step *= WIDEN
        elif len(counter.known) >= MAX_PROBES or late[0] - early[0] <= timedelta(microseconds=1):
            return early, late
        else:
            # Narrow: guess where the target falls as if deadlines were spread evenly between
            # the two (few probes when they are), halving whenever a guess did not halve the gap.
            halve = not halve and late[0] - early[0] > gap / 2
            gap = late[0] - early[0]
            share = 0.5 if halve else ((low + high) / 2 - early[1]) / (late[1] - early[1])
            moment = early[0] + gap * min(max(share, 0.01), 0.99)
        await counter.before(moment)


async def page_jobs(
    client: Client, query: str, guild_id: int, *, page: int, size: int, hints: PageHints | None = None
) -> JobPage:
    """One page of the jobs the query matches, soonest first, from counts and a few rows;
    `hints` remembers where it was bounded, for the next page of the same query."""
    total = (await client.count_workflows(query)).count
    pages = max(1, -(-total // size))
    page = min(max(page, 0), pages - 1)
    first = page * size
    if total <= max(LIST_ALL, size + SLACK):
        return JobPage(
            jobs=(await list_jobs(client, query, guild_id))[first : first + size],
            page=page,
            pages=pages,
            total=total,
        )
    now = datetime.now(UTC)
    counter = _Counter(client, query)
    for moment in hints.get(query) if hints else ():
        await counter.before(moment)
    window = [query]
    skip = 0
    bounds = []
    if first > 0:
        # Start where at most `first` jobs come before (the early side if not narrowed).
        start, _ = await _bracket(counter, now, max(first - SLACK, 0), first)
        if start is not None:
            window.append(_deadline(">=", start[0]))
            skip = start[1]
            bounds.append(start[0])
    if first + size < total:
        # End where at least the page's last job comes before (the late side if not narrowed).
        _, end = await _bracket(counter, now, first + size, first + size + SLACK)
        if end is not None:
            window.append(_deadline("<", end[0]))
            bounds.append(end[0])
    if hints is not None:
        hints.put(query, bounds)
    jobs = await list_jobs(client, " AND ".join(window), guild_id)
    return JobPage(
        jobs=jobs[first - skip : first - skip + size],
        page=page,
        pages=pages,
        total=total,
        counts=1 + len(counter.known),
    )
