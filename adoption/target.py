"""Where an import goes: the Temporal server and the feature clients it is made through, whether
it is a dry run, and what the server already holds (an id used before, a run's input).

Every import goes through the features' public client methods, so it is refused what they
refuse; the reads here use the Temporal client directly and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.challenges import Challenges
from clients.custom_actions import CustomActions
from clients.guild_settings import SettingsBackend, StoreSettings
from clients.jobs import Jobs, utcnow
from clients.seasons import Seasons
from clients.store import PersistentStore, StoreError
from clients.whispers import Whispers
from stack.sealing import WhisperSeal
from workflows.custom_actions_models import ACTION_KEY_PREFIX, STORED, ActionDefinition, actions_store_name

M = TypeVar("M", bound=BaseModel)


@dataclass
class Target:
    client: Client
    task_queue: str
    dry_run: bool = False
    seal: WhisperSeal | None = None
    # The clock deadlines are compared with (tests give the time-skipping server's).
    clock: Callable[[], datetime] = utcnow
    jobs: Jobs = field(init=False)
    whispers: Whispers = field(init=False)
    settings: SettingsBackend = field(init=False)
    seasons: Seasons = field(init=False)
    custom_actions: CustomActions = field(init=False)
    challenges: Challenges = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = Jobs(self.client, self.task_queue, clock=self.clock)
        self.whispers = Whispers(self.client, self.task_queue, self.seal)
        self.settings = StoreSettings(self.client, self.task_queue)
        self.seasons = Seasons(self.client, self.task_queue, self.settings)
        self.custom_actions = CustomActions(self.client, self.task_queue, self.jobs)
        self.challenges = Challenges(self.client, self.task_queue, clock=self.clock)

    def now(self) -> datetime:
        return self.jobs.now()

    async def exists(self, workflow_id: str) -> bool:
        """Whether a workflow with this id ran here, running or closed (until the namespace's
        retention forgets it): an import never starts an id it already used."""
        try:
            await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def started_input(self, workflow_id: str, model: type[M]) -> M:
        """The input the workflow's current run started with, decoded as the worker reads it."""
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        [value] = await self.client.data_converter.decode(started.input.payloads, [model])
        if not isinstance(value, model):
            raise TypeError(f"{workflow_id} did not start with a {model.__name__}")
        return value

    async def actions_here(self, guild_id: int) -> list[ActionDefinition]:
        """The guild's custom actions, read without starting their store (a dry run starts nothing)."""
        store = PersistentStore.attach(self.client, actions_store_name(guild_id), self.task_queue)
        try:
            values: list[Any] = await store.values(ACTION_KEY_PREFIX)
        except StoreError:
            return []  # no store: the guild has none
        return [ActionDefinition.model_validate(value, context=STORED) for value in values]
