"""Inputs, messages and results of the scheduled job workflow.

One pydantic model per workflow argument, update, signal and result, so fields can be added
with defaults without breaking executions already running.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, JsonValue

MAX_DELAY = timedelta(days=365)
# A reminder whose moment passed longer ago than this (no worker was running) is skipped,
# never sent late in a burst.
DEFAULT_REMINDER_GRACE = timedelta(seconds=60)

# Job ids are business keys: `job-<guild>-<key>` for a keyed job (computed again from guild and
# key), `job-<guild>-<random hex>` otherwise. The guild part is what every client checks first.
JOB_ID_PREFIX = "job-"


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


JobOutcome = Literal["done", "cancelled", "failed"]
JobState = Literal["waiting", "running", "done", "cancelled", "failed"]
ReminderOutcome = Literal["sent", "skipped", "failed"]


class Reminder(BaseModel):
    offset: timedelta = Field(gt=timedelta(0), description="how long before the deadline")
    message: str = Field(min_length=1, max_length=200)


class JobSpec(BaseModel):
    action: str
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    guild_id: int
    channel_id: int
    deadline: AwareDatetime
    reminders: list[Reminder] = Field(default_factory=list)
    reminder_action: str = "send_reminder"
    description: str = Field(default="", max_length=200)
    key: str | None = Field(default=None, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    scheduled_by: int
    reminder_grace: timedelta = DEFAULT_REMINDER_GRACE


class ReminderRecord(BaseModel):
    message: str
    due: datetime
    at: datetime
    outcome: ReminderOutcome
    reason: str | None = None


class ReminderPlan(BaseModel):
    message: str
    due: datetime


class JobStatus(BaseModel):
    state: JobState
    action: str
    description: str
    guild_id: int
    channel_id: int
    deadline: datetime
    scheduled_by: int
    next_reminder: ReminderPlan | None
    reminders: list[ReminderRecord]


class CancelRequest(BaseModel):
    by: int
    guild_id: int
    reason: str = Field(default="", max_length=200)
    # Set by the bot when it has checked the user is a host of the guild; otherwise only the
    # user who scheduled the job may cancel it.
    as_host: bool = False


class RescheduleRequest(BaseModel):
    deadline: AwareDatetime
    by: int
    guild_id: int
    as_host: bool = False


class JobResult(BaseModel):
    outcome: JobOutcome
    at: datetime
    by: int | None = None
    reason: str | None = None
    reminders: list[ReminderRecord] = Field(default_factory=list)
    action_result: JsonValue = None


class ReminderInput(BaseModel):
    job_id: str
    guild_id: int
    channel_id: int
    message: str
    deadline: datetime
    description: str


class ActionInput(BaseModel):
    job_id: str
    action: str
    guild_id: int
    channel_id: int
    payload: dict[str, JsonValue]
    deadline: datetime
    scheduled_by: int
    description: str


class FailureNotice(BaseModel):
    job_id: str
    guild_id: int
    channel_id: int
    scheduled_by: int
    description: str
    reason: str
