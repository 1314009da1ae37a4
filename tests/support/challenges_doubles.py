"""Stand-ins for the actions a challenge round runs, registered under the catalogue's names, and
chain builders for tests on the time-skipping server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.support.guild_checks_doubles import GuildDoubles
from tests.support.jobs_doubles import Clock
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import (
    ChallengeInput,
    ChallengeResult,
    ChallengeSpec,
    RoundAction,
    RoundSpec,
    challenge_id_for,
)
from workflows.jobs_actions import NOTIFY_JOB_FAILED, POST_MESSAGE, SEND_REMINDER
from workflows.jobs_models import ActionInput, FailureNotice, Reminder, ReminderInput
from workflows.safari_engine import PROCESS_ROUND_RESULTS

GUILD = 111
CHANNEL = 222
HOST = 333
QUEUE = "challenges"


@dataclass
class Posts:
    """What the chain posted, in order, at server time: ("reminder"|"action", text, when). A
    round's post is logged without the line above it naming the chain and round (`headers`);
    what the chain told its channel about a pause, resume or skip is in `announcements`."""

    env: Clock
    log: list[tuple[str, str, datetime]] = field(default_factory=list)
    # The channel of each post in `log`, in the same order.
    channels: list[int] = field(default_factory=list)
    headers: list[str | None] = field(default_factory=list)
    announcements: list[tuple[str, datetime, int]] = field(default_factory=list)
    notices: list[FailureNotice] = field(default_factory=list)
    # Decides per post what the action does: return None to succeed, or raise.
    action_behaviour: Callable[[ActionInput], None] = lambda action: None
    # When set, a posted message waits for it first (an action still on its way to Discord).
    gate: asyncio.Event | None = None
    started: int = 0
    # What Discord says about hosts (the chain's own check of a host's claim).
    discord_guild: GuildDoubles = field(default_factory=GuildDoubles)

    def activities(self) -> list[object]:
        @activity.defn(name=SEND_REMINDER)
        async def send_reminder(reminder: ReminderInput) -> dict[str, str]:
            text = f"{reminder.description} in {reminder.message}"
            self.log.append(("reminder", text, await self.env.get_current_time()))
            self.channels.append(reminder.channel_id)
            return {"message_id": "1"}

        @activity.defn(name=POST_MESSAGE)
        async def post_message(action: ActionInput) -> dict[str, str]:
            content, now = str(action.payload["content"]), await self.env.get_current_time()
            if (action.nonce_key or "").startswith("announce"):
                self.announcements.append((content, now, action.channel_id))
                return {"message_id": "4"}
            self.started += 1
            if self.gate is not None:
                await self.gate.wait()
            self.action_behaviour(action)
            first, _, rest = content.partition("\n")
            header = first if rest and " · Round " in first else None
            self.headers.append(header)
            self.log.append(("action", rest if header else content, now))
            self.channels.append(action.channel_id)
            return {"message_id": "2"}

        @activity.defn(name=PROCESS_ROUND_RESULTS)
        async def process_round_results(action: ActionInput) -> dict[str, str]:
            self.log.append(("action", "safari results", await self.env.get_current_time()))
            self.channels.append(action.channel_id)
            return {"message_id": "3"}

        @activity.defn(name=NOTIFY_JOB_FAILED)
        async def notify_job_failed(notice: FailureNotice) -> None:
            self.notices.append(notice)

        return [
            send_reminder,
            post_message,
            process_round_results,
            notify_job_failed,
            self.discord_guild.activity(),
        ]

    def actions(self) -> list[str]:
        return [text for kind, text, _ in self.log if kind == "action"]


def round_(
    name: str,
    after: timedelta | None = None,
    *,
    at: datetime | None = None,
    reminders: list[Reminder] | None = None,
    channel_id: int | None = None,
) -> RoundSpec:
    return RoundSpec(
        name=name,
        after=after,
        at=at,
        channel_id=channel_id,
        reminders=reminders or [],
        actions=[RoundAction(action=POST_MESSAGE, payload={"content": f"{name} starts now!"})],
    )


def chain(rounds: list[RoundSpec], key: str = "quiz", **fields: object) -> ChallengeSpec:
    return ChallengeSpec.model_validate(
        {
            "key": key,
            "title": "Quiz",
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "host_id": HOST,
            "rounds": rounds,
            **fields,
        }
    )


async def start(
    env: WorkflowEnvironment, spec: ChallengeSpec, task_timeout: timedelta | None = None
) -> WorkflowHandle[ChallengeChainWorkflow, ChallengeResult]:
    return await env.client.start_workflow(
        ChallengeChainWorkflow.run,
        ChallengeInput(spec=spec),
        id=challenge_id_for(GUILD, spec.key),
        task_queue=QUEUE,
        task_timeout=task_timeout,
    )
