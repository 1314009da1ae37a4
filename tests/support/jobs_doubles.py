"""Stand-ins for the jobs' Discord actions, registered under the same names, and job builders for
tests that run the scheduled job workflow on the time-skipping server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.support.guild_checks_doubles import GuildDoubles
from workflows.common import EDIT_ANNOUNCEMENT, AnnouncementEdit
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import (
    FIND_REMINDER_POST,
    NOTIFY_JOB_CANCELLED,
    NOTIFY_JOB_FAILED,
    POST_MESSAGE,
    SEND_REMINDER,
)
from workflows.jobs_models import (
    ActionInput,
    CancelNotice,
    FailureNotice,
    JobResult,
    JobSpec,
    Reminder,
    ReminderInput,
    ReminderLookup,
    job_id_for,
)
from workflows.outage_models import REPORT_OUTAGE, OutageEntry
from workflows.safari_engine import PROCESS_ROUND_RESULTS

GUILD = 111
CHANNEL = 222
HOST = 333
SAFARI_REMINDERS = [
    Reminder(offset=timedelta(minutes=30), message="30 minutes"),
    Reminder(offset=timedelta(minutes=5), message="5 minutes"),
    Reminder(offset=timedelta(minutes=1), message="1 minute"),
]


class Clock(Protocol):
    async def get_current_time(self) -> datetime: ...


@dataclass
class Doubles:
    """Stand-ins for the Discord actions that note what ran and at which server time."""

    env: Clock  # the time-skipping server's clock, so fire times are in workflow time
    reminders: list[tuple[str, datetime]] = field(default_factory=list)
    actions: list[tuple[ActionInput, datetime]] = field(default_factory=list)
    notices: list[FailureNotice] = field(default_factory=list)
    cancel_notices: list[CancelNotice] = field(default_factory=list)
    # Reminders posted, with the moment each was due to be posted by.
    reminder_posts: list[tuple[ReminderInput, datetime]] = field(default_factory=list)
    action_attempts: int = 0
    reminder_attempts: int = 0
    # Decides per attempt what the action does: return None to succeed, or raise.
    action_behaviour: Callable[[int], None] = lambda attempt: None
    # Whether Discord refuses every post (reminders, actions) at this server time: an outage.
    discord_down: Callable[[datetime], bool] = lambda now: False
    # Whether this reminder attempt gets a 429 (a rate-limit storm).
    reminder_throttled: Callable[[int], bool] = lambda attempt: False
    # Public announcements edited when their job ended.
    announcements: list[AnnouncementEdit] = field(default_factory=list)
    # What the jobs reported to their server's outage summary (late, missed, failed).
    outage_reports: list[OutageEntry] = field(default_factory=list)
    # What Discord says about channels and hosts (the workflows' own checks).
    discord_guild: GuildDoubles = field(default_factory=GuildDoubles)

    def _outage(self, now: datetime) -> None:
        if self.discord_down(now):
            raise ApplicationError("Discord is unavailable (503): outage", type="DiscordUnavailable")

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name=SEND_REMINDER)
        async def send_reminder(reminder: ReminderInput) -> dict[str, str]:
            now = await self.env.get_current_time()
            self.reminder_attempts += 1
            self._outage(now)
            if self.reminder_throttled(self.reminder_attempts):
                raise ApplicationError(
                    "Discord is unavailable (429): rate limited", type="DiscordUnavailable"
                )
            self.reminders.append((reminder.message, now))
            self.reminder_posts.append((reminder, now))
            return {"message_id": "1"}

        @activity.defn(name=FIND_REMINDER_POST)
        async def find_reminder_post(lookup: ReminderLookup) -> dict[str, str]:
            wanted = lookup.reminder
            for posted, _ in self.reminder_posts:
                if (posted.job_id, posted.message, posted.deadline) == (
                    wanted.job_id,
                    wanted.message,
                    wanted.deadline,
                ):
                    return {"message_id": "1"}
            return {}

        @activity.defn(name=POST_MESSAGE)
        async def post_message(action: ActionInput) -> dict[str, str]:
            now = await self.env.get_current_time()
            self.action_attempts += 1
            self._outage(now)
            self.action_behaviour(self.action_attempts)
            self.actions.append((action, now))
            return {"message_id": "2"}

        @activity.defn(name=PROCESS_ROUND_RESULTS)
        async def process_round_results(action: ActionInput) -> dict[str, str]:
            return await post_message(action)

        @activity.defn(name=NOTIFY_JOB_FAILED)
        async def notify_job_failed(notice: FailureNotice) -> None:
            self.notices.append(notice)

        @activity.defn(name=NOTIFY_JOB_CANCELLED)
        async def notify_job_cancelled(notice: CancelNotice) -> None:
            self.cancel_notices.append(notice)

        @activity.defn(name=EDIT_ANNOUNCEMENT)
        async def edit_announcement(edit: AnnouncementEdit) -> bool:
            self.announcements.append(edit)
            return True

        @activity.defn(name=REPORT_OUTAGE)
        async def report_to_outage_summary(entry: OutageEntry) -> None:
            self.outage_reports.append(entry)

        return [
            send_reminder,
            find_reminder_post,
            post_message,
            process_round_results,
            notify_job_failed,
            notify_job_cancelled,
            edit_announcement,
            report_to_outage_summary,
            self.discord_guild.activity(),
        ]


def job(now: datetime, delay: timedelta, reminders: list[Reminder] | None = None) -> JobSpec:
    return JobSpec(
        action=POST_MESSAGE,
        payload={"content": "Round results!"},
        guild_id=GUILD,
        channel_id=CHANNEL,
        deadline=now + delay,
        reminders=SAFARI_REMINDERS if reminders is None else reminders,
        description="Safari Round Results",
        scheduled_by=HOST,
    )


async def start(
    env: WorkflowEnvironment, spec: JobSpec, *, start_delay: timedelta | None = None
) -> WorkflowHandle[ScheduledJobWorkflow, JobResult]:
    """Start the job; `start_delay` hands its first task to a worker that late, as after an
    outage (the time-skipping server cannot skip time while a task waits for a worker)."""
    return await env.client.start_workflow(
        ScheduledJobWorkflow.run,
        spec,
        id=job_id_for(GUILD, uuid.uuid4().hex[:8]),
        task_queue="jobs",
        start_delay=start_delay,
    )


def assert_near(actual: datetime, expected: datetime, slack: timedelta = timedelta(seconds=5)) -> None:
    assert abs(actual - expected) <= slack, f"{actual} is not within {slack} of {expected}"


async def event_count(handle: WorkflowHandle[ScheduledJobWorkflow, JobResult]) -> int:
    return len((await handle.fetch_history()).events)


async def current_details(handle: WorkflowHandle[ScheduledJobWorkflow, JobResult]) -> str:
    """What the Web UI shows as the job's current details (the SDK's metadata query)."""
    metadata: WorkflowMetadata = await handle.query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return metadata.current_details
