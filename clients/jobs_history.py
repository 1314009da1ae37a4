"""A guild's past jobs, newest first, from visibility and each run's result (never a replay).

Visibility gives what each run was (action, channel, due, who scheduled it, its Outcome, when it
closed); the run's close event gives the rest (when it ran, why it failed or who cancelled it,
its reminders). The server keeps closed runs for the namespace's retention (README: History).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowFailureError

from clients.jobs_listing import _ids, quote
from workflows import search_attributes as sa
from workflows.jobs_models import JobResult, job_prefix
from workflows.outcomes import OUTCOMES

# A run longer ago than this is gone from the server (the namespace's retention: stack/devserver.py,
# docker-compose.yml); the history says how far back it reaches.
HISTORY_REACH = timedelta(days=30)
# Anything that ran later than this after its moment is shown as late.
LATE = timedelta(minutes=1)
# What visibility says of a run that closed without a JobResult.
_STATUS_OUTCOME = {
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "failed",
    WorkflowExecutionStatus.TERMINATED: "cancelled",
    WorkflowExecutionStatus.CANCELED: "cancelled",
}


@dataclass(frozen=True)
class PastJob:
    job_id: str
    run_id: str
    action: str
    description: str
    channel_id: int
    scheduled_by: int
    due: datetime | None
    closed: datetime | None
    outcome: str
    # When the action ran (None: it never did, e.g. cancelled before).
    ran: datetime | None = None
    reason: str | None = None
    cancelled_by: int | None = None
    operator: str | None = None
    sent: int = 0
    # (reminder, why) for each reminder skipped or failed.
    not_sent: list[tuple[str, str]] = field(default_factory=list)

    @property
    def late(self) -> timedelta | None:
        """How late the action ran, when more than LATE."""
        if self.ran is None or self.due is None or self.ran - self.due <= LATE:
            return None
        return self.ran - self.due


@dataclass(frozen=True)
class HistoryPage:
    jobs: list[PastJob]
    total: int
    page: int
    pages: int


def history_query(
    guild_id: int,
    *,
    outcome: str | None = None,
    action: str | None = None,
    channel_id: int | None = None,
    channels: Collection[int] | None = None,
    hidden_channels: Collection[int] = (),
) -> str:
    """The visibility query for a guild's closed jobs; `channels`/`hidden_channels` as in
    `jobs_listing.job_query`: the viewer's channels only."""
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"an outcome is one of {', '.join(OUTCOMES)}")
    clauses = [
        f"{sa.GUILD_ID.name} = {quote(str(int(guild_id)))}",
        f"WorkflowId STARTS_WITH {quote(job_prefix(int(guild_id)))}",
        "CloseTime IS NOT NULL",
    ]
    if outcome:
        clauses.append(f"{sa.OUTCOME.name} = {quote(outcome)}")
    if action:
        clauses.append(f"{sa.JOB_ACTION.name} = {quote(action)}")
    if channel_id:
        clauses.append(f"{sa.CHANNEL_ID.name} = {quote(str(int(channel_id)))}")
    if channels is not None:
        clauses.append(f"{sa.CHANNEL_ID.name} IN {_ids(channels)}" if channels else "WorkflowId = ''")
    if hidden_channels:
        clauses.append(f"{sa.CHANNEL_ID.name} NOT IN {_ids(hidden_channels)}")
    return " AND ".join(clauses)


async def past_job(client: Client, execution: WorkflowExecution) -> PastJob:
    """One closed run, from its visibility row and its result."""
    attrs = execution.typed_search_attributes
    memo = await execution.memo()
    base = PastJob(
        job_id=execution.id,
        run_id=execution.run_id,
        action=attrs.get(sa.JOB_ACTION) or "",
        description=str(memo.get("description", "")),
        channel_id=int(attrs.get(sa.CHANNEL_ID) or 0),
        scheduled_by=int(attrs.get(sa.SCHEDULED_BY) or 0),
        due=attrs.get(sa.JOB_DEADLINE),
        closed=execution.close_time,
        outcome=attrs.get(sa.OUTCOME) or _STATUS_OUTCOME.get(execution.status, "done"),  # type: ignore[arg-type]
    )
    if execution.status != WorkflowExecutionStatus.COMPLETED:
        return base
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id, result_type=JobResult)
    try:
        result = await handle.result(follow_runs=False)
    except WorkflowFailureError:
        return base
    return dataclasses.replace(
        base,
        outcome=attrs.get(sa.OUTCOME) or result.outcome,
        ran=result.ran_at,
        reason=result.reason,
        cancelled_by=result.by,
        operator=result.operator,
        sent=sum(1 for r in result.reminders if r.outcome == "sent"),
        not_sent=[(r.message, r.reason or r.outcome) for r in result.reminders if r.outcome != "sent"],
    )


async def page_history(client: Client, query: str, *, page: int, size: int) -> HistoryPage:
    """One page of the query's closed jobs, newest first (the SQL visibility store lists closed
    runs by close time, newest first; a page is read up to its end and cut)."""
    total = (await client.count_workflows(query)).count
    pages = max(1, -(-total // size))
    page = max(0, min(page, pages - 1))
    rows = [row async for row in client.list_workflows(query, limit=(page + 1) * size)]
    rows.sort(key=lambda row: (row.close_time.timestamp() if row.close_time else 0.0, row.id), reverse=True)
    chosen = rows[page * size : (page + 1) * size]
    jobs = await asyncio.gather(*(past_job(client, row) for row in chosen))
    return HistoryPage(jobs=list(jobs), total=total, page=page, pages=pages)
