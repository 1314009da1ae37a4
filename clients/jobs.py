"""The scheduler facade the bot uses: CastBot's `scheduler` API, on Temporal.

It starts one ScheduledJob workflow per job, cancels and reschedules through updates the
workflow validates, and lists jobs from the visibility store in one call.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, JsonValue, TypeAdapter, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, JsonObject, refuses
from clients.calls import Calls, Refusals
from clients.jobs_listing import JobPage, JobSummary, PageHints, job_query, list_jobs, page_jobs
from clients.names import NO_NAMES, Names
from workflows import search_attributes as sa
from workflows import times
from workflows.common import Snowflake, UserError, first_error, visible
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import UnknownActionError, action_spec
from workflows.jobs_models import (
    ACTION_NAME_PATTERN,
    KEY_PATTERN,
    MAX_DELAY,
    MAX_REMINDERS,
    CancelRequest,
    IfLate,
    JobAnnouncement,
    JobSpec,
    JobStatus,
    Reminder,
    RescheduleRequest,
    ShiftRequest,
    SteerRequest,
    job_id_for,
    job_prefix,
)

# Long enough for a task that posts to Discord inside it (the SDK heartbeats longer ones).
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
# A payload is stored in the job's history and sent with its action: a few fields, not a file.
MAX_PAYLOAD_BYTES = 16 * 1024
JOB_ID_PATTERN = r"job-[1-9][0-9]{0,18}-[A-Za-z0-9_.:-]{1,80}"
_SNOWFLAKE: TypeAdapter[int] = TypeAdapter(Snowflake)


class SchedulingError(UserError):
    """A request the scheduler refuses; the message is fit to show the user."""


class JobNotFound(SchedulingError):
    pass


class NotAllowed(SchedulingError):
    pass


class NotConfirmed(SchedulingError):
    def __init__(self) -> None:
        super().__init__(
            "the scheduler has not answered (a worker may be restarting), so this is not confirmed"
        )


REFUSALS = Refusals(
    refused=NotAllowed,
    over=lambda: JobNotFound("this job is already over or does not exist"),
    not_confirmed=NotConfirmed,
    too_large=SchedulingError,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_remaining(deadline: datetime, now: datetime | None = None) -> str:
    """Time left before `deadline` from now, as `workflows.times.format_remaining` words it."""
    return times.format_remaining(deadline - (now or utcnow()))


def snowflake(value: object, what: str) -> int:
    """A Discord id checked as the models check it: SchedulingError naming the field if not."""
    try:
        return _SNOWFLAKE.validate_python(value)
    except ValidationError as err:
        raise SchedulingError(f"{what}: {first_error(err)}") from None


def _delay(value: timedelta) -> timedelta:
    # Bounded before any arithmetic: now + timedelta.min overflows.
    if value > MAX_DELAY:
        raise ValueError(f"the time is more than {MAX_DELAY.days} days away")
    if value < -MAX_DELAY:
        raise ValueError("the time is in the past")
    return value


Delay = Annotated[timedelta, AfterValidator(_delay)]


def check_job_id(job_id: object) -> str:
    if not isinstance(job_id, str) or not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise JobNotFound("that is not the id of a scheduled job")
    return job_id


def check_payload(model: type[BaseModel] | None, action: str, payload: object) -> dict[str, JsonValue]:
    """The payload as JSON within MAX_PAYLOAD_BYTES, valid for the action's model, no unknown keys."""
    if not isinstance(payload, dict):
        raise SchedulingError(f"bad payload for {action}: it must be a JSON object")
    try:
        size = len(json.dumps(payload, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise SchedulingError(f"bad payload for {action}: it is not plain JSON") from None
    if size > MAX_PAYLOAD_BYTES:
        raise SchedulingError(
            f"the payload is {size:,} bytes; the limit is {MAX_PAYLOAD_BYTES // 1024} KiB "
            f"({MAX_PAYLOAD_BYTES:,} bytes)"
        )
    if model is not None:
        known = {info.alias or name for name, info in model.model_fields.items()} | set(model.model_fields)
        unknown = sorted(str(key) for key in payload if key not in known)
        if unknown:
            raise SchedulingError(f"bad payload for {action}: unknown field(s) {', '.join(unknown)[:100]}")
        try:
            model.model_validate(payload)
        except ValidationError as err:
            raise SchedulingError(f"bad payload for {action}: {first_error(err)}") from None
    return payload


class Jobs:
    def __init__(self, client: Client, task_queue: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._client = client
        self._task_queue = task_queue
        self._clock = clock
        self._calls = Calls(client, REFUSALS)
        self._hints = PageHints()  # where the dashboard's recent pages were bounded

    def now(self) -> datetime:
        """The clock deadlines are computed from (UTC), so a caller can pass `at=` and know it."""
        return self._clock()

    @refuses(SchedulingError)
    async def schedule(
        self,
        action: str,
        payload: JsonObject | None = None,
        *,
        guild_id: DiscordId,
        channel_id: DiscordId,
        scheduled_by: DiscordId,
        delay: Delay | None = None,
        at: datetime | None = None,
        reminders: Sequence[Reminder] = (),
        reminder_action: str = "send_reminder",
        description: str = "",
        key: str | None = None,
        retry_of: str | None = None,
        if_late: IfLate | None = None,
        names: Names = NO_NAMES,
        check_channel: bool = False,
    ) -> str:
        """Start a job; returns its id. Refuses bad input before anything is started. `names`: the
        channel's and scheduler's names, for the Web UI only. `check_channel`: the job asks Discord
        whether the channel is in the guild before it plans anything, and ends refused when it is
        not."""
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
            retry_of=retry_of,
            if_late=if_late,
            check_channel=check_channel,
        )
        if names.channel:
            spec = spec.model_copy(update={"channel_name": names.channel[:100]})
        job_id = job_id_for(spec.guild_id, spec.key or uuid.uuid4().hex[:12])
        attributes: list[SearchAttributePair[Any]] = [
            SearchAttributePair(sa.GUILD_ID, str(spec.guild_id)),
            SearchAttributePair(sa.CHANNEL_ID, str(spec.channel_id)),
            SearchAttributePair(sa.JOB_ACTION, spec.action),
            SearchAttributePair(sa.JOB_DEADLINE, spec.deadline),
            SearchAttributePair(sa.SCHEDULED_BY, str(spec.scheduled_by)),
            names.title(spec.description or spec.action),
        ]
        if spec.key:
            attributes.append(SearchAttributePair(sa.JOB_KEY, spec.key))
        plan = ", ".join(r.message for r in sorted(spec.reminders, key=lambda r: r.offset, reverse=True))
        try:
            await self._client.start_workflow(
                ScheduledJobWorkflow.run,
                spec,
                id=job_id,
                task_queue=self._task_queue,
                search_attributes=TypedSearchAttributes(attributes),
                memo={"description": description},
                static_summary=f"{spec.description or spec.action} in {names.where(spec.channel_id)} "
                f"by {names.who(spec.scheduled_by)}, deadline {spec.deadline:%Y-%m-%d %H:%M:%S} UTC",
                static_details=f"reminders before the deadline: {plan or 'none'}",
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                # A task held by a worker that died is retried elsewhere after this, not 10 s.
                task_timeout=WORKFLOW_TASK_TIMEOUT,
                # Per-guild fairness: a server with task-queue fairness on hands out a backlog
                # guild by guild, so one guild's burst does not delay another's deadlines.
                priority=Priority(fairness_key=str(spec.guild_id)),
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
        for name in ("guild_id", "channel_id", "scheduled_by"):
            fields[name] = snowflake(fields[name], name)
        try:
            spec = action_spec(action)
            reminder_spec = action_spec(reminder_action) if reminders else None
        except (UnknownActionError, TypeError) as err:
            raise SchedulingError(str(err)) from None
        if spec.reminder:
            raise SchedulingError(f"{action} is a reminder action; it cannot be a job's action")
        if reminder_spec is not None and not reminder_spec.reminder:
            raise SchedulingError(f"{reminder_action} is not a reminder action")
        check_payload(spec.payload, action, payload)
        reminders = self._reminders(reminders)
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

    @staticmethod
    def _reminders(reminders: object) -> list[Reminder]:
        if not isinstance(reminders, Sequence) or isinstance(reminders, str):
            raise SchedulingError("reminders must be a list of Reminder")
        if len(reminders) > MAX_REMINDERS:
            raise SchedulingError(f"{len(reminders)} reminders is too many; at most {MAX_REMINDERS}")
        try:
            checked = [Reminder.model_validate(r) for r in reminders]
        except ValidationError as err:
            raise SchedulingError(f"reminder: {first_error(err)}") from None
        for reminder in checked:  # here, not in the model: started jobs must decode as they were
            visible(reminder.message, "the reminder's message", SchedulingError)
        offsets = [r.offset for r in checked]
        if len(set(offsets)) != len(offsets):
            raise SchedulingError("two reminders fall at the same moment; give each a different time")
        return checked

    def _deadline(self, delay: object, at: object) -> datetime:
        """Turn a delay into an absolute UTC deadline once, here, so no restart can shift it."""
        now = self._clock()
        far = SchedulingError(f"the time is more than {MAX_DELAY.days} days away")
        if delay is not None and at is None:
            if not isinstance(delay, timedelta):
                raise SchedulingError(f"the delay must be a duration (timedelta), not {type(delay).__name__}")
            if delay > MAX_DELAY:
                raise far  # before adding: now + timedelta.max overflows
            deadline = now + delay
        elif at is not None and delay is None:
            if not isinstance(at, datetime):
                raise SchedulingError(f"the time must be a datetime, not {type(at).__name__}")
            if at.tzinfo is None:
                raise SchedulingError("the time must carry a time zone")
            try:
                deadline = at.astimezone(UTC)
            except OverflowError:
                raise far from None
        else:
            raise SchedulingError("give either a delay or a time, not both")
        if deadline < now:
            raise SchedulingError("the time is in the past")
        if deadline - now > MAX_DELAY:
            raise far
        return deadline

    @refuses(SchedulingError)
    async def status(self, job_id: str) -> JobStatus:
        handle = self._client.get_workflow_handle_for(ScheduledJobWorkflow.run, check_job_id(job_id))
        return await self._calls.query(
            handle,
            ScheduledJobWorkflow.status,
            over=lambda: JobNotFound(f"no job {job_id}"),
            failed=lambda: JobNotFound(f"{job_id} is not a scheduled job"),
        )

    @refuses(SchedulingError)
    async def cancel(
        self,
        job_id: str,
        *,
        by: DiscordId,
        guild_id: DiscordId,
        as_host: bool = False,
        reason: str = "",
        run: str = "",
    ) -> JobStatus:
        """Cancel a job before its action runs. Refuses a job of another guild, or one already
        over; with `run` (a `run_tag`, from a listing), also a later run of the job."""
        guild_id = snowflake(guild_id, "guild_id")
        if not check_job_id(job_id).startswith(job_prefix(guild_id)):
            raise NotAllowed("this job belongs to another server; you cannot cancel it")
        try:
            request = CancelRequest(by=by, guild_id=guild_id, reason=reason, as_host=as_host, run=run)
        except ValidationError as err:
            raise SchedulingError(first_error(err)) from None
        return await self._update(job_id, ScheduledJobWorkflow.cancel, request)

    @refuses(SchedulingError)
    async def reschedule(
        self,
        job_id: str,
        *,
        by: DiscordId,
        guild_id: DiscordId,
        delay: Delay | None = None,
        at: datetime | None = None,
        as_host: bool = False,
    ) -> JobStatus:
        guild_id = snowflake(guild_id, "guild_id")
        if not check_job_id(job_id).startswith(job_prefix(guild_id)):
            raise NotAllowed("this job belongs to another server; you cannot reschedule it")
        deadline = self._deadline(delay, at)
        try:
            request = RescheduleRequest(deadline=deadline, by=by, guild_id=guild_id, as_host=as_host)
        except ValidationError as err:
            raise SchedulingError(first_error(err)) from None
        return await self._update(job_id, ScheduledJobWorkflow.reschedule, request)

    @refuses(SchedulingError)
    async def owner(self, job_id: str) -> tuple[str, int | None, bool]:
        """(run id, who scheduled it, whether it still runs) from describe: answered by the server
        alone, so the bot can check who may change a job before it opens a form."""
        handle = self._client.get_workflow_handle(check_job_id(job_id))
        try:
            described = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise JobNotFound("this job is already over or does not exist") from None
            raise
        by = described.typed_search_attributes.get(sa.SCHEDULED_BY)
        running = described.status == WorkflowExecutionStatus.RUNNING
        return described.run_id, int(by) if by and by.isdigit() else None, running

    @refuses(SchedulingError)
    async def shift(
        self,
        job_id: str,
        by_how_much: timedelta,
        *,
        by: DiscordId,
        guild_id: DiscordId,
        as_host: bool = False,
    ) -> JobStatus:
        """Move a job later (positive) or earlier (negative) from the deadline it has."""
        guild_id = self._own(job_id, guild_id, "move")
        if not isinstance(by_how_much, timedelta) or abs(by_how_much) > MAX_DELAY:
            raise SchedulingError(f"a job can be moved by at most {MAX_DELAY.days} days")
        request = ShiftRequest(by_how_much=by_how_much, by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(job_id, ScheduledJobWorkflow.shift, request)

    @refuses(SchedulingError)
    async def pause(
        self, job_id: str, *, by: DiscordId, guild_id: DiscordId, as_host: bool = False
    ) -> JobStatus:
        """Stop a job's clock: nothing fires until it is resumed with the time it had left."""
        guild_id = self._own(job_id, guild_id, "pause")
        request = SteerRequest(by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(job_id, ScheduledJobWorkflow.pause, request)

    @refuses(SchedulingError)
    async def resume(
        self, job_id: str, *, by: DiscordId, guild_id: DiscordId, as_host: bool = False
    ) -> JobStatus:
        guild_id = self._own(job_id, guild_id, "resume")
        request = SteerRequest(by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(job_id, ScheduledJobWorkflow.resume, request)

    @refuses(SchedulingError)
    async def run_now(
        self, job_id: str, *, by: DiscordId, guild_id: DiscordId, as_host: bool = False
    ) -> JobStatus:
        """Run a job's action now, once, instead of at its deadline."""
        guild_id = self._own(job_id, guild_id, "run")
        request = SteerRequest(by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(job_id, ScheduledJobWorkflow.run_now, request)

    @staticmethod
    def _own(job_id: str, guild_id: int, verb: str) -> int:
        guild_id = snowflake(guild_id, "guild_id")
        if not check_job_id(job_id).startswith(job_prefix(guild_id)):
            raise NotAllowed(f"this job belongs to another server; you cannot {verb} it")
        return guild_id

    async def _update(self, job_id: str, update: Any, request: Any) -> JobStatus:
        handle = self._client.get_workflow_handle_for(ScheduledJobWorkflow.run, job_id)
        result: JobStatus = await self._calls.update(handle, update, request)
        return result

    @refuses(SchedulingError)
    async def announced(
        self, job_id: str, *, channel_id: DiscordId, message_id: DiscordId, title: str
    ) -> None:
        """Tell a job where its public announcement is, so it edits the post when it fires, fails
        or is cancelled (a signal: no worker needed). A job already over has nothing to correct."""
        announcement = JobAnnouncement(channel_id=channel_id, message_id=message_id, title=title[:200])
        handle = self._client.get_workflow_handle_for(ScheduledJobWorkflow.run, check_job_id(job_id))
        with contextlib.suppress(JobNotFound):
            await self._calls.signal(handle, ScheduledJobWorkflow.announced, announcement)

    @refuses(SchedulingError)
    async def cancel_by_key(
        self, key: str, *, guild_id: DiscordId, by: DiscordId, as_host: bool = False, reason: str = ""
    ) -> bool:
        """Cancel the running job with this logical key; False when there is none."""
        if not isinstance(key, str) or len(key) > 80 or not re.fullmatch(KEY_PATTERN, key):
            raise SchedulingError("a job key is up to 80 of A-Z, a-z, 0-9 and _.:-")
        try:
            await self.cancel(
                job_id_for(guild_id, key), by=by, guild_id=guild_id, as_host=as_host, reason=reason
            )
        except JobNotFound:
            return False
        return True

    @refuses(SchedulingError)
    async def get_jobs(
        self,
        guild_id: DiscordId,
        *,
        action: str | None = None,
        channel_id: DiscordId | None = None,
        key: str | None = None,
        scheduled_by: DiscordId | None = None,
    ) -> list[JobSummary]:
        """The guild's waiting jobs, soonest first, from one visibility query (no per-job queries).
        Filters are checked first: a stray character must not reach the visibility store's SQL."""
        guild_id = snowflake(guild_id, "guild_id")
        if action and not re.fullmatch(ACTION_NAME_PATTERN, action):
            raise SchedulingError("an action name is a-z, 0-9 and _ (64 at most), starting with a letter")
        if key and (len(key) > 80 or not re.fullmatch(KEY_PATTERN, key)):
            raise SchedulingError("a job key is up to 80 of A-Z, a-z, 0-9 and _.:-")
        channel_id = snowflake(channel_id, "channel_id") if channel_id is not None else None
        scheduled_by = snowflake(scheduled_by, "scheduled_by") if scheduled_by is not None else None
        query = job_query(guild_id, action=action, channel_id=channel_id, key=key, scheduled_by=scheduled_by)
        return await list_jobs(self._client, query, guild_id)

    @refuses(SchedulingError)
    async def page_jobs(
        self,
        guild_id: DiscordId,
        *,
        page: int,
        size: int,
        channels: Collection[int] | None = None,
        hidden_channels: Collection[int] = (),
        exclude: Collection[str] = (),
    ) -> JobPage:
        """One page of the guild's waiting jobs, soonest first, with the total: a few visibility
        counts and one short list, however many jobs wait (see clients/jobs_listing.py).
        `channels`: only jobs in these; `hidden_channels`: none in these; `exclude`: not these ids."""
        guild_id = snowflake(guild_id, "guild_id")
        if not 1 <= size <= 100:
            raise SchedulingError("a page holds 1 to 100 jobs")
        query = job_query(
            guild_id,
            channels=None if channels is None else [snowflake(c, "channel_id") for c in channels],
            hidden_channels=[snowflake(c, "channel_id") for c in hidden_channels],
            exclude=[check_job_id(job_id) for job_id in exclude],
        )
        return await page_jobs(self._client, query, guild_id, page=page, size=size, hints=self._hints)
