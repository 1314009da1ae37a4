"""Inputs, messages and results of the scheduled job workflow.

One pydantic model per workflow argument, update, signal and result, so fields can be added
with defaults without breaking executions already running.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, model_validator

from workflows.common import Snowflake

JOBS_WORKFLOW = "ScheduledJob"
MAX_DELAY = timedelta(days=365)
# Each reminder is a post in the channel: a handful is useful, a hundred is spam.
MAX_REMINDERS = 10
# Action names are identifiers shown in listings and search attributes.
ACTION_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
KEY_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# The Web UI shows what an operator typed; a longer name or reason is cut, never refused (a
# signal whose input does not decode is dropped unseen).
OPERATOR_TEXT = 200
# A reminder whose moment passed longer ago than this (no worker was running) is skipped,
# never sent late in a burst.
DEFAULT_REMINDER_GRACE = timedelta(seconds=60)

# Job ids are business keys: `job-<guild>-<key>` for a keyed job (computed again from guild and
# key), `job-<guild>-<random hex>` otherwise. The guild part is what every client checks first.
JOB_ID_PREFIX = "job-"

# A repeat (clients/repeats.py) is a Temporal Schedule `repeat-<guild>-<name>`; each occurrence
# starts a job `job-<guild>-rp.<name>-<time>` (the server appends the time).
REPEAT_ID_PREFIX = "repeat-"
REPEAT_JOB_KEY = "rp."
# The search attribute the server sets on a workflow a schedule started: its scheduled time.
SCHEDULED_START = "TemporalScheduledStartTime"

# The server's time zone (`/schedule timezone`), an IANA name in the guild's settings store.
TIME_ZONE = "time_zone"
DEFAULT_TIME_ZONE = "UTC"


def member_zones_store_name(guild_id: int) -> str:
    """The store of the guild's members' own time zones (`/schedule my-timezone`), keyed by user
    id: apart from the settings store, whose memo holds a few dozen keys, not one per member."""
    return f"time-zones-{guild_id}"


def job_prefix(guild_id: int) -> str:
    return f"{JOB_ID_PREFIX}{guild_id}-"


def job_id_for(guild_id: int, suffix: str) -> str:
    """The id of a job of this guild: `suffix` is its key, or a random part for an unkeyed job."""
    return job_prefix(guild_id) + suffix


def job_suffix(job_id: str, guild_id: int) -> str:
    """The guild-local part of a job id; ValueError for another guild's job."""
    if not job_id.startswith(job_prefix(guild_id)):
        raise ValueError(f"{job_id} is not a job of guild {guild_id}")
    return job_id[len(job_prefix(guild_id)) :]


# missed: due while the bot could not run it, and later than its action allows (ActionSpec.late).
JobOutcome = Literal["done", "cancelled", "failed", "missed"]
JobState = Literal["waiting", "running", "done", "cancelled", "failed", "missed"]
ReminderOutcome = Literal["sent", "skipped", "failed"]


class Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset: timedelta = Field(gt=timedelta(0), description="how long before the deadline")
    message: str = Field(min_length=1, max_length=200)


class IfLate(BaseModel):
    """A host's choice for their own post when it falls due while the bot could not run it."""

    model_config = ConfigDict(extra="forbid")

    # None: post it however late; else skip it (recorded missed, the host told) past this.
    skip_after: timedelta | None = Field(default=None, ge=timedelta(minutes=1), le=MAX_DELAY)


class JobSpec(BaseModel):
    action: str = Field(pattern=ACTION_NAME_PATTERN)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    guild_id: Snowflake
    channel_id: Snowflake
    deadline: AwareDatetime
    reminders: list[Reminder] = Field(default_factory=list, max_length=MAX_REMINDERS)
    reminder_action: str = Field(default="send_reminder", pattern=ACTION_NAME_PATTERN)
    description: str = Field(default="", max_length=200)
    key: str | None = Field(default=None, max_length=80, pattern=KEY_PATTERN)
    scheduled_by: Snowflake
    reminder_grace: timedelta = DEFAULT_REMINDER_GRACE
    # A host's Retry of a failed or missed run: that run's id (the first one's, for a retry of a
    # retry). Actions key what they applied on it, so the retry never applies it twice.
    retry_of: str | None = Field(default=None, max_length=64)
    # A repeat's occurrence (started by a Temporal Schedule `lead` before it): the deadline is
    # the scheduled start plus `lead`, and `deadline` above is only the repeat's first one.
    lead: timedelta | None = Field(default=None, ge=timedelta(0), le=timedelta(days=1))
    # The host's late policy for this job; None: its action's (ActionSpec.late).
    if_late: IfLate | None = None
    # The channel's name when the job was scheduled, for the timers' summaries in the Web UI only.
    channel_name: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _distinct_reminders(self) -> JobSpec:
        offsets = [reminder.offset for reminder in self.reminders]
        if len(set(offsets)) != len(offsets):
            raise ValueError("two reminders fall at the same moment; give each a different time")
        return self


class ReminderRecord(BaseModel):
    message: str
    due: datetime
    at: datetime
    outcome: ReminderOutcome
    reason: str | None = None


class ReminderPlan(BaseModel):
    message: str
    due: datetime


class JobChange(BaseModel):
    """One change a member made to a waiting job (moved, paused, run now...), kept in its history."""

    at: datetime
    by: Snowflake
    what: str


class JobStatus(BaseModel):
    state: JobState
    action: str
    description: str
    guild_id: Snowflake
    channel_id: Snowflake
    deadline: datetime
    scheduled_by: Snowflake
    next_reminder: ReminderPlan | None
    reminders: list[ReminderRecord]
    # Time left when it was paused (nothing fires until it is resumed); None when not paused.
    paused_left: timedelta | None = None
    changes: list[JobChange] = Field(default_factory=list)


class CancelRequest(BaseModel):
    by: Snowflake
    guild_id: Snowflake
    reason: str = Field(default="", max_length=200)
    # Set by the bot when it has checked the user is a host of the guild; otherwise only the
    # user who scheduled the job may cancel it.
    as_host: bool = False
    # The end of the run id the caller saw (`run_tag`: a listing's Cancel button carries it): a
    # keyed job's id comes back with its next run, and that run refuses a cancel meant for the
    # one before. Empty: whichever run is current.
    run: str = Field(default="", pattern=r"^[0-9a-f-]{0,36}$")


# How much of a run id a Cancel button carries: 32 bits, so a later run of the same job shares
# it once in four billion.
RUN_TAG = 8


def run_tag(run_id: str) -> str:
    """The part of a run id a button carries: its end, which is random. (Run ids are UUIDv7,
    whose start is the time in milliseconds: two runs a minute apart share their first 8.)"""
    return run_id[-RUN_TAG:]


class RescheduleRequest(BaseModel):
    deadline: AwareDatetime
    by: Snowflake
    guild_id: Snowflake
    as_host: bool = False


class ShiftRequest(BaseModel):
    """The `shift` update: the deadline moved by `by_how_much` (later if positive, earlier if
    negative), computed in the workflow from the deadline it has, so two shifts add up."""

    by_how_much: timedelta
    by: Snowflake
    guild_id: Snowflake
    as_host: bool = False


class SteerRequest(BaseModel):
    """The `pause`, `resume` and `run_now` updates: who asks, checked as a cancel is."""

    by: Snowflake
    guild_id: Snowflake
    as_host: bool = False


class OperatorCancel(BaseModel):
    """The `operator_cancel` signal, sent from the Web UI or the CLI:
    `temporal workflow signal --name operator_cancel --input '{"by": "alice", "reason": "..."}'`.
    Lenient on purpose: unknown keys are ignored and long text is cut, because a signal whose
    input does not decode is dropped without a word to the operator."""

    by: str = "an operator"
    reason: str = ""

    def who(self) -> str:
        return (self.by.strip() or "an operator")[:OPERATOR_TEXT]

    def why(self) -> str | None:
        return self.reason.strip()[:OPERATOR_TEXT] or None


class JobResult(BaseModel):
    outcome: JobOutcome
    at: datetime
    # The Discord user who cancelled it through the bot...
    by: Snowflake | None = None
    # ...or the operator (signal) or "Temporal cancellation" (the Web UI's Request Cancellation).
    operator: str | None = None
    reason: str | None = None
    reminders: list[ReminderRecord] = Field(default_factory=list)
    action_result: JsonValue = None
    # When the action was started (None: it never was); how late it ran is this minus the deadline.
    ran_at: datetime | None = None
    # The deadline it ran for (after any reschedule).
    deadline: datetime | None = None


class ReminderInput(BaseModel):
    job_id: str
    guild_id: Snowflake
    channel_id: Snowflake
    message: str
    deadline: datetime
    description: str
    # The activity refuses to post from this moment on (None: the job's deadline).
    post_by: datetime | None = None
    # The same for every attempt at one reminder (each attempt is its own local activity), so a
    # post Discord took but whose answer was lost is not posted again by the next attempt.
    nonce_key: str | None = None


class ActionInput(BaseModel):
    job_id: str
    action: str
    guild_id: Snowflake
    channel_id: Snowflake
    payload: dict[str, JsonValue]
    deadline: datetime
    scheduled_by: Snowflake
    description: str
    # The same for the short local try and the long regular one: one post, whichever lands it.
    nonce_key: str | None = None
    # JobSpec.retry_of: the run whose state changes this one must not repeat.
    retry_of: str | None = None
    # Set when it runs more than a minute after its moment: the line its post ends with
    # ("due <t:…>, posted <t:…>: the bot was offline").
    late_note: str | None = None


# A paused job's memo: the seconds it had left when paused (absent when not paused).
PAUSED_MEMO = "paused_left_seconds"

# The signal by which the bot tells a job where it announced it publicly.
ANNOUNCED = "announced"


class JobAnnouncement(BaseModel):
    """A public post that announced the job ("results in 30 minutes"): the job edits it when it
    fires, fails or is cancelled, starting with `title` ("🦁 **Safari round 1 results**")."""

    channel_id: Snowflake
    message_id: Snowflake
    title: str = Field(min_length=1, max_length=200)


class FailureNotice(BaseModel):
    job_id: str
    guild_id: Snowflake
    channel_id: Snowflake
    scheduled_by: Snowflake
    description: str
    reason: str


class CancelNotice(BaseModel):
    """Told in the job's channel when an operator, not the bot, cancelled it."""

    job_id: str
    guild_id: Snowflake
    channel_id: Snowflake
    scheduled_by: Snowflake
    description: str
    by: str
    reason: str | None = None
