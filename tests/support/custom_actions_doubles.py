"""Custom Actions on the time-skipping server: the real activity and store workflow, with Discord
replaced by a double that records what would have been posted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.custom_actions import CustomActionActivities
from clients.custom_actions import CustomActions
from clients.jobs import Jobs
from clients.store import PersistentStore
from components.custom_actions import ResultMessage
from tests.support.guild_checks_doubles import GuildDoubles
from worker import build_worker
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import NOTIFY_JOB_FAILED
from workflows.jobs_models import FailureNotice
from workflows.safari_engine import player_key, store_name
from workflows.store import StoreWorkflow


@dataclass
class Post:
    channel_id: int
    webhook_name: str
    mention: int
    content: str | None
    components: list[dict[str, Any]] | None

    @property
    def text(self) -> str:
        """Everything the message shows, as one string."""
        return self.content if self.content is not None else str(self.components)

    @property
    def first_line(self) -> str:
        if self.content is not None:
            return self.content.split("\n")[0]
        assert self.components is not None
        return str(self.components[0]["content"])


def unknown_channel() -> ApplicationError:
    """What WebhookDiscord raises for a channel that is gone."""
    return ApplicationError(
        "Discord refused (404, code 10003): Unknown Channel",
        {"status": 404, "code": 10003},
        type="DiscordRejected",
        non_retryable=True,
    )


@dataclass
class FakeDiscordSide:
    """Stands in for WebhookDiscord: records posts; `fail(attempt)` may raise before a post;
    channels in `gone` refuse both the preparation and the post."""

    roles: dict[int, list[int]] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    attempts: int = 0
    fail: Callable[[int], None] = lambda attempt: None
    gone: set[int] = field(default_factory=set)

    async def member_roles(self, guild_id: int, user_id: int) -> list[int]:
        return self.roles.get(user_id, [])

    async def prepare(self, channel_id: int) -> None:
        if channel_id in self.gone:
            raise unknown_channel()

    async def post(self, channel_id: int, name: str, message: ResultMessage, mention: int) -> int:
        self.attempts += 1
        if channel_id in self.gone:
            raise unknown_channel()
        self.fail(self.attempts)
        components = message.view.to_components() if message.view is not None else None  # type: ignore[no-untyped-call]
        self.posts.append(Post(channel_id, name, mention, message.content, components))
        return 9000 + len(self.posts)


@dataclass
class SettableClock:
    """The scheduler's clock, set from the time-skipping server's (which runs ahead of the wall)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    client: Client
    queue: str
    discord: FakeDiscordSide
    actions: CustomActions
    clock: SettableClock
    notices: list[FailureNotice]
    # What Discord says about channels and hosts (the job's own checks).
    guild: GuildDoubles

    async def sync_clock(self, now: datetime) -> None:
        self.clock.now = now

    async def give(self, guild_id: int, user_id: int, balance: int) -> None:
        """Put a player in the guild's Safari with this balance (the Safari store schema)."""
        store = await PersistentStore.create(self.client, store_name(guild_id), self.queue)
        await store.set(player_key(user_id), {"balance": balance, "name": "player", "joined_round": 0})

    async def balance(self, guild_id: int, user_id: int) -> int | None:
        store = await PersistentStore.create(self.client, store_name(guild_id), self.queue)
        value = await store.get(player_key(user_id))
        return value.get("balance") if isinstance(value, dict) else None  # type: ignore[return-value]


@asynccontextmanager
async def custom_actions_worker(client: Client, queue: str, now: datetime) -> AsyncIterator[Harness]:
    discord_side = FakeDiscordSide()
    notices: list[FailureNotice] = []

    @activity.defn(name=NOTIFY_JOB_FAILED)
    async def notify_job_failed(notice: FailureNotice) -> None:
        notices.append(notice)

    guild = GuildDoubles()
    activities = [
        CustomActionActivities(client, queue, discord_side).execute_custom_action,
        notify_job_failed,
        guild.activity(),
    ]
    clock = SettableClock(now)
    worker: Worker = build_worker(client, queue, activities, workflows=[ScheduledJobWorkflow, StoreWorkflow])
    async with worker:
        actions = CustomActions(client, queue, Jobs(client, queue, clock=clock))
        yield Harness(client, queue, discord_side, actions, clock, notices, guild)
