"""The catalogue of schedulable actions: names and how the workflow calls them.

This module holds only the jobs feature's own actions. Every other feature registers its
actions from its own models module when that module is imported (`register`); worker.py
imports those modules, so every worker and every replay has the same catalogue before its
first workflow task. The activities that implement the actions register under the same names
(activities/, worker.py), and the client refuses a name that is not here, so a typo fails at
schedule time, not at the deadline. Short Discord posts run as local activities: one workflow
task per fire instead of three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.common import visible
from workflows.jobs_models import ACTION_NAME_PATTERN


@dataclass(frozen=True)
class ActionSpec:
    name: str
    # Local activities run inside the workflow task: fewer server round trips per fire.
    local: bool = True
    # Short, so an attempt held by a crashed worker is retried within seconds.
    start_to_close: timedelta = timedelta(seconds=15)
    # The whole retry budget for transient failures (Discord 5xx, 429, network) on the old path
    # (executions started before `workflows.jobs.JOBS_PATCH`); a job's final action now keeps
    # trying for FINAL_ACTION_BUDGET, a reminder until its deadline.
    schedule_to_close: timedelta = timedelta(hours=1)
    # A reminder action takes a ReminderInput and may only be a job's reminder action; every
    # other action takes an ActionInput and may only be a job's main action.
    reminder: bool = False
    # Regular activities that heartbeat: a crashed worker's attempt is retried after this.
    heartbeat: timedelta | None = None
    # The payload's shape, checked when the job is scheduled rather than at the deadline.
    payload: type[BaseModel] | None = None
    # When it falls due while it could not run (worker stopped, Discord down): None runs it however
    # late (Safari results, turn timeouts); a window runs it up to that late, else the job is
    # recorded `missed` and the host told (workflows.jobs.LATE_PATCH).
    late: timedelta | None = None
    # Its window came with workflows.jobs.IF_LATE_PATCH: executions started before ran it however late.
    late_new: bool = False
    # What people read where the job is listed ("Safari round results"); the name is for code.
    label: str = ""


class PostMessagePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=2000)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return visible(value, "the message")


SEND_REMINDER = "send_reminder"
# Not an action: the activity that looks in the channel for a reminder whose answer was lost.
FIND_REMINDER_POST = "find_reminder_post"
POST_MESSAGE = "post_message"
NOTIFY_JOB_FAILED = "notify_job_failed"
NOTIFY_JOB_CANCELLED = "notify_job_cancelled"

ACTIONS: dict[str, ActionSpec] = {}


def register(spec: ActionSpec) -> ActionSpec:
    """Add an action to the catalogue; a feature calls it at import for each of its actions.
    Registering the same spec again changes nothing; another spec under a taken name is refused,
    so two features can never share an action name."""
    if not re.fullmatch(ACTION_NAME_PATTERN, spec.name):
        raise ValueError(
            f"an action name is a-z, 0-9 and _ (64 at most), starting with a letter: {spec.name!r}"
        )
    known = ACTIONS.setdefault(spec.name, spec)
    if known != spec:
        raise ValueError(f"the action {spec.name!r} is registered already, with other settings")
    return spec


register(ActionSpec(SEND_REMINDER, reminder=True, label="Reminder"))
# A scheduled post an hour late is worse than none: missed, and the host told.
register(ActionSpec(POST_MESSAGE, payload=PostMessagePayload, late=timedelta(hours=1), label="Message"))


def action_spec(name: str) -> ActionSpec:
    try:
        return ACTIONS[name]
    except KeyError:
        # Never echo a huge or odd name back, nor list the catalogue: it reaches the user's screen.
        what = f"named {name!r}" if re.fullmatch(ACTION_NAME_PATTERN, name) else "by that name"
        raise UnknownActionError(f"no action {what} is registered") from None


def action_label(name: str) -> str:
    """The words a person reads for an action: its label, else its name in words."""
    spec = ACTIONS.get(name)
    return spec.label if spec is not None and spec.label else name.replace("_", " ").capitalize()


class UnknownActionError(ValueError):
    pass
