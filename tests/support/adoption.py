"""The adoption tests' fixture files, their times moved to now, and a worker hosting everything an
import starts, with Discord's side replaced by recorders registered under the real names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client

from tests.support.jobs_doubles import Clock
from tests.support.jobs_doubles import Doubles as JobDoubles
from tests.support.seasons_doubles import Doubles as SeasonDoubles
from worker import build_worker
from workflows.challenges import ChallengeChainWorkflow
from workflows.custom_actions_models import EXECUTE_CUSTOM_ACTION
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import ActionInput
from workflows.seasons import SeasonWorkflow
from workflows.seasons_turns import TurnWorkflow
from workflows.store import StoreWorkflow
from workflows.whispers import WhisperWorkflow
from workflows.whispers_models import (
    DELETE_NOTIFICATION,
    DM_SENDER,
    EDIT_NOTIFICATION,
    POST_NOTIFICATION,
    NotificationEdit,
    NotificationInput,
    PostedNotification,
    SenderNotice,
)

FIXTURES = Path(__file__).resolve().parents[1] / "adoption" / "fixtures"
# The moment the fixture files were written at (Unix ms): every time in them is relative to it.
ANCHOR_MS = 1709234567890
# The times that matter: CastBot's (Unix ms) and EPYC's `fireDate` (ISO text).
TIMES = ("executeAt", "createdAt", "timestamp", "readAt", "fireDate")


def at_now(name: str, now: datetime) -> bytes:
    """A fixture file with its times moved so that the anchor is `now`."""
    shift = round(now.timestamp() * 1000) - ANCHOR_MS

    def moved(value: Any) -> Any:
        if isinstance(value, int):
            return value + shift
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(milliseconds=shift)
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return value

    def move(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: moved(value) if key in TIMES else move(value) for key, value in node.items()}
        if isinstance(node, list):
            return [move(item) for item in node]
        return node

    return json.dumps(move(json.loads((FIXTURES / name).read_bytes()))).encode()


@dataclass
class Recorders:
    jobs: JobDoubles
    seasons: SeasonDoubles
    custom_actions: list[ActionInput] = field(default_factory=list)
    whispers: list[NotificationInput] = field(default_factory=list)

    def activities(self) -> list[object]:
        @activity.defn(name=EXECUTE_CUSTOM_ACTION)
        async def execute_custom_action(action: ActionInput) -> dict[str, str]:
            self.custom_actions.append(action)
            return {"message_id": "3"}

        @activity.defn(name=POST_NOTIFICATION)
        async def post(notice: NotificationInput) -> PostedNotification:
            self.whispers.append(notice)
            return PostedNotification(channel_id=notice.channel_id, message_id=9000 + len(self.whispers))

        @activity.defn(name=DELETE_NOTIFICATION)
        async def delete(posted: PostedNotification) -> bool:
            return True

        @activity.defn(name=EDIT_NOTIFICATION)
        async def edit(change: NotificationEdit) -> bool:
            return True

        @activity.defn(name=DM_SENDER)
        async def dm(notice: SenderNotice) -> None:
            return None

        return [
            *self.jobs.activities(),
            *self.seasons.activities(announcements=False),
            execute_custom_action,
            post,
            delete,
            edit,
            dm,
        ]


@asynccontextmanager
async def import_worker(client: Client, queue: str, clock: Clock | None) -> AsyncIterator[Recorders]:
    """A worker of every workflow an import starts; `clock`: the time-skipping server, or None."""
    recorders = Recorders(JobDoubles(clock or _WallClock()), SeasonDoubles(None))
    workflows = [
        ScheduledJobWorkflow,
        WhisperWorkflow,
        StoreWorkflow,
        SeasonWorkflow,
        TurnWorkflow,
        ChallengeChainWorkflow,
    ]
    async with build_worker(client, queue, recorders.activities(), workflows=workflows):
        yield recorders


class _WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)
