"""The catalogue of schedulable actions: names and how the workflow calls them.

The activities that implement them register under the same names (activities/), and the
client refuses a name that is not here, so a typo fails at schedule time, not at the deadline.
Short Discord posts run as local activities: one workflow task per fire instead of three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class ActionSpec:
    name: str
    # Local activities run inside the workflow task: fewer server round trips per fire.
    local: bool = True
    # Short, so an attempt held by a crashed worker is retried within seconds.
    start_to_close: timedelta = timedelta(seconds=15)
    # The whole retry budget for transient failures (Discord 5xx, 429, network).
    schedule_to_close: timedelta = timedelta(hours=1)
    # Whether the action may be the main action of a job, or is only a reminder action.
    reminder: bool = False
    # The payload's shape, checked when the job is scheduled rather than at the deadline.
    payload: type[BaseModel] | None = None


class PostMessagePayload(BaseModel):
    content: str = Field(min_length=1, max_length=2000)


SEND_REMINDER = "send_reminder"
POST_MESSAGE = "post_message"
NOTIFY_JOB_FAILED = "notify_job_failed"
PROCESS_ROUND_RESULTS = "process_round_results"
EXECUTE_CUSTOM_ACTION = "execute_custom_action"

ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(SEND_REMINDER, reminder=True),
        ActionSpec(POST_MESSAGE, payload=PostMessagePayload),
    )
}


def register(spec: ActionSpec) -> None:
    """Add an action to the catalogue (features call this at import, like `registerAction`)."""
    ACTIONS[spec.name] = spec


def action_spec(name: str) -> ActionSpec:
    try:
        return ACTIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIONS)) or "none"
        raise UnknownActionError(f"no action named {name!r} is registered (known: {known})") from None


class UnknownActionError(ValueError):
    pass
