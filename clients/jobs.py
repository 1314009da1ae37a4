"""The scheduler facade the bot uses: the seed's `scheduler` API, on Temporal.

It starts one ScheduledJob workflow per job, cancels and reschedules through updates the
workflow validates, and lists jobs from the visibility store in one call.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import JsonValue, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows import search_attributes as sa
from workflows.common import UserError, first_error
from workflows.jobs import WORKFLOW_NAME, ScheduledJobWorkflow
from workflows.jobs_actions import UnknownActionError, action_spec
from workflows.jobs_models import (
    MAX_DELAY,
    CancelRequest,
    JobSpec,
    JobStatus,
    Reminder,
    RescheduleRequest,
    job_id_for,
    job_prefix,
)

# Long enough for a task that posts to Discord inside it (the SDK heartbeats longer ones).
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)


class SchedulingError(UserError):
    """A request the scheduler refuses; the message is fit to show the user."""


class JobNotFound(SchedulingError):
    pass


class NotAllowed(SchedulingError):
    pass


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


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_remaining(deadline: datetime, now: datetime | None = None) -> str:
    """Time left as "2d 3h 5m" or "45m", rounded up to the minute; "due now" at zero or less."""
    seconds = (deadline - (now or utcnow())).total_seconds()
    if seconds <= 0:
        return "due now"
    minutes = math.ceil(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Jobs:
    def __init__(self, client: Client, task_queue: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._client = client
        self._task_queue = task_queue
        self._clock = clock

    def now(self) -> datetime:
        """The clock deadlines are computed from (UTC), so a caller can pass `at=` and know it."""
        return self._clock()

    async def schedule(
        self,
        action: str,
        payload: dict[str, JsonValue] | None = None,
        *,
        guild_id: int,
        channel_id: int,
        scheduled_by: int,
        delay: timedelta | None = None,
        at: datetime | None = None,
        reminders: Sequence[Reminder] = (),
        reminder_action: str = "send_reminder",
        description: str = "",
        key: str | None = None,
    ) -> str:
        """Start a job; returns its id. Refuses bad input before anything is started."""
        spec = self._validate(
            action,
            payload or {},
            guild_id=guild_id,
            channel_id=channel_id,
            scheduled_by=scheduled_by,
            delay=delay,
            at=at,
            reminders=reminders,
            reminder_action=reminder_action,
            description=description,
            key=key,
        )
        job_id = job_id_for(guild_id, key or uuid.uuid4().hex[:12])
        attributes: list[SearchAttributePair[Any]] = [
            SearchAttributePair(sa.GUILD_ID, str(guild_id)),
            SearchAttributePair(sa.CHANNEL_ID, str(channel_id)),
            SearchAttributePair(sa.JOB_ACTION, action),
            SearchAttributePair(sa.JOB_DEADLINE, spec.deadline),
            SearchAttributePair(sa.SCHEDULED_BY, str(scheduled_by)),
        ]
        if key:
            attributes.append(SearchAttributePair(sa.JOB_KEY, key))
        plan = ", ".join(r.message for r in sorted(spec.reminders, key=lambda r: r.offset, reverse=True))
        try:
            await self._client.start_workflow(
                ScheduledJobWorkflow.run,
                spec,
                id=job_id,
                task_queue=self._task_queue,
                search_attributes=TypedSearchAttributes(attributes),
                memo={"description": description},
                static_summary=f"{description or action} in channel {channel_id}, "
                f"deadline {spec.deadline:%Y-%m-%d %H:%M:%S} UTC",
                static_details=f"reminders before the deadline: {plan or 'none'}",
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                # A task held by a worker that died is retried elsewhere after this, not 10 s.
                task_timeout=WORKFLOW_TASK_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            raise SchedulingError(f"a job with key {key!r} is already scheduled in this server") from None
        return job_id

    def _validate(
        self,
        action: str,
        payload: dict[str, JsonValue],
        *,
        delay: timedelta | None,
        at: datetime | None,
        reminders: Sequence[Reminder],
        reminder_action: str,
        **fields: Any,
    ) -> JobSpec:
        try:
            spec = action_spec(action)
            reminder_spec = action_spec(reminder_action) if reminders else None
        except UnknownActionError as err:
            raise SchedulingError(str(err)) from None
        if spec.reminder:
            raise SchedulingError(f"{action} is a reminder action; it cannot be a job's action")
        if reminder_spec is not None and not reminder_spec.reminder:
            raise SchedulingError(f"{reminder_action} is not a reminder action")
        if spec.payload is not None:
            try:
                spec.payload.model_validate(payload)
            except ValidationError as err:
                raise SchedulingError(f"bad payload for {action}: {first_error(err)}") from None
        deadline = self._deadline(delay, at)
        wait = deadline - self._clock()
        for reminder in reminders:
            if reminder.offset >= wait:
                raise SchedulingError(
                    f"the {reminder.message!r} reminder would fall in the past: the job is due sooner"
                )
        try:
            return JobSpec(
                action=action,
                payload=payload,
                deadline=deadline,
                reminders=list(reminders),
                reminder_action=reminder_action,
                **fields,
            )
        except ValidationError as err:
            raise SchedulingError(first_error(err)) from None

    def _deadline(self, delay: timedelta | None, at: datetime | None) -> datetime:
        """Turn a delay into an absolute UTC deadline once, here, so no restart can shift it."""
        now = self._clock()
        if delay is not None and at is None:
            deadline = now + delay
        elif at is not None and delay is None:
            if at.tzinfo is None:
                raise SchedulingError("the time must carry a time zone")
            deadline = at.astimezone(UTC)
        else:
            raise SchedulingError("give either a delay or a time, not both")
        if deadline < now:
            raise SchedulingError("the time is in the past")
        if deadline - now > MAX_DELAY:
            raise SchedulingError(f"the time is more than {MAX_DELAY.days} days away")
        return deadline

    async def status(self, job_id: str) -> JobStatus:
        handle = self._client.get_workflow_handle_for(ScheduledJobWorkflow.run, job_id)
        try:
            return await handle.query(ScheduledJobWorkflow.status)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise JobNotFound(f"no job {job_id}") from None
            raise

    async def cancel(
        self, job_id: str, *, by: int, guild_id: int, as_host: bool = False, reason: str = ""
    ) -> JobStatus:
        """Cancel a job before its action runs. Refuses a job of another guild, or one already over."""
        if not job_id.startswith(job_prefix(guild_id)):
            raise NotAllowed("this job belongs to another server; you cannot cancel it")
        request = CancelRequest(by=by, guild_id=guild_id, reason=reason, as_host=as_host)
        return await self._update(job_id, ScheduledJobWorkflow.cancel, request)

    async def reschedule(
        self,
        job_id: str,
        *,
        by: int,
        guild_id: int,
        delay: timedelta | None = None,
        at: datetime | None = None,
        as_host: bool = False,
    ) -> JobStatus:
        if not job_id.startswith(job_prefix(guild_id)):
            raise NotAllowed("this job belongs to another server; you cannot reschedule it")
        deadline = self._deadline(delay, at)
        request = RescheduleRequest(deadline=deadline, by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(job_id, ScheduledJobWorkflow.reschedule, request)

    async def _update(self, job_id: str, update: Any, request: Any) -> JobStatus:
        handle = self._client.get_workflow_handle_for(ScheduledJobWorkflow.run, job_id)
        try:
            result: JobStatus = await handle.execute_update(update, request)
            return result
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise NotAllowed(message) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise JobNotFound("this job is already over or does not exist") from None
            raise

    async def cancel_by_key(
        self, key: str, *, guild_id: int, by: int, as_host: bool = False, reason: str = ""
    ) -> bool:
        """Cancel the running job with this logical key; False when there is none."""
        try:
            await self.cancel(
                job_id_for(guild_id, key), by=by, guild_id=guild_id, as_host=as_host, reason=reason
            )
        except JobNotFound:
            return False
        return True

    async def get_jobs(
        self,
        guild_id: int,
        *,
        action: str | None = None,
        channel_id: int | None = None,
        key: str | None = None,
        scheduled_by: int | None = None,
    ) -> list[JobSummary]:
        """The guild's waiting jobs, soonest first, from one visibility query (no per-job queries)."""
        clauses = [
            f"WorkflowType = {_quote(WORKFLOW_NAME)}",
            "ExecutionStatus = 'Running'",
            f"{sa.GUILD_ID.name} = {_quote(str(guild_id))}",
        ]
        if action:
            clauses.append(f"{sa.JOB_ACTION.name} = {_quote(action)}")
        if channel_id:
            clauses.append(f"{sa.CHANNEL_ID.name} = {_quote(str(channel_id))}")
        if key:
            clauses.append(f"{sa.JOB_KEY.name} = {_quote(key)}")
        if scheduled_by:
            clauses.append(f"{sa.SCHEDULED_BY.name} = {_quote(str(scheduled_by))}")
        jobs = []
        async for execution in self._client.list_workflows(" AND ".join(clauses)):
            if execution.status != WorkflowExecutionStatus.RUNNING:
                continue
            attrs = execution.typed_search_attributes
            memo = await execution.memo()
            deadline = attrs.get(sa.JOB_DEADLINE)
            if deadline is None:
                continue
            jobs.append(
                JobSummary(
                    job_id=execution.id,
                    action=attrs.get(sa.JOB_ACTION) or "",
                    guild_id=int(attrs.get(sa.GUILD_ID) or guild_id),
                    channel_id=int(attrs.get(sa.CHANNEL_ID) or 0),
                    deadline=deadline,
                    scheduled_by=int(attrs.get(sa.SCHEDULED_BY) or 0),
                    key=attrs.get(sa.JOB_KEY),
                    description=str(memo.get("description", "")),
                )
            )
        return sorted(jobs, key=lambda job: (job.deadline, job.job_id))
