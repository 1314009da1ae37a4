"""Custom Actions over the PersistentStore and the scheduler: what the bot and the worker call.

Definitions live in the store `custom-actions-<guild>` (key `action:<id>`), written by
compare-and-set so two hosts editing at once never lose each other's change. Scheduled and armed
runs are ScheduledJobs with the action `execute_custom_action`; a player's armed run has the key
`ca:<action>:<player>:<slot>` (slot 1 for block and replace, 1 to 5 for stack), so the server
refuses a second job in a taken slot, with no listing involved.

Currency goes to the Safari store (its schema: workflows.safari_engine) exactly once per run: ONE
transact writes the player and a marker `applied:<run>/<outcome index>` per currency outcome,
each marker only if absent. A retry of the run finds its markers and shows what they recorded,
without evaluating the condition again (the first attempt's balance already changed).

The markers are bounded: a run's markers are only read by its own retries, so once its job
workflow has closed they are deleted by the next paying run, in the same transact.
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, JsonValue, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, refuses
from clients.jobs import Jobs, SchedulingError
from clients.jobs_listing import JobSummary
from clients.names import NO_NAMES, Names
from clients.safari import player_versioned, safari_store
from clients.store import PersistentStore, VersionConflict
from workflows import search_attributes as sa
from workflows.common import UserError, first_error
from workflows.custom_actions_models import (
    ACTION_ID_PATTERN,
    ACTION_KEY_PREFIX,
    EXECUTE_CUSTOM_ACTION,
    MAX_OUTCOMES,
    MAX_SCHEDULE,
    MAX_STACK,
    STORED,
    ActionDefinition,
    CurrencyChange,
    Evaluation,
    ExecuteCustomActionPayload,
    Player,
    action_key,
    actions_store_name,
    armed_key,
    evaluate,
    job_key_prefix,
    needs_balance,
    result_blocks,
)
from workflows.jobs_models import job_id_for
from workflows.safari_engine import player_key
from workflows.store_models import Snapshot, TransactOp
from workflows.times import check_duration

ATTEMPTS = 50
# One paying run deletes the markers of at most this many closed runs (a store that filled
# before markers were pruned drains over a few runs).
PRUNE_RUNS = 25
DESCRIBES_AT_ONCE = 5


class CustomActionError(UserError):
    """A refusal fit to show the user as it is."""


@refuses(CustomActionError)
def run_payload(
    definition: ActionDefinition,
    guild_id: DiscordId,
    channel_id: DiscordId,
    user_id: DiscordId,
    origin: Literal["host", "player"],
) -> dict[str, JsonValue]:
    """What a job (one run, or each occurrence of a repeat) runs the action with."""
    payload = ExecuteCustomActionPayload(
        guild_id=guild_id,
        channel_id=channel_id,
        action_id=definition.id,
        user_id=user_id,
        action_name=definition.name,
        origin=origin,
    )
    return payload.model_dump(mode="json")


class ActionNotFound(CustomActionError):
    pass


def _action_id(value: str) -> str:
    if not re.fullmatch(ACTION_ID_PATTERN, value):
        raise ValueError("is not the id of a custom action")
    return value


ActionId = Annotated[str, AfterValidator(_action_id)]


def new_action_id() -> str:
    return "a" + uuid.uuid4().hex[:10]


def parse_definition(value: object) -> ActionDefinition:
    try:
        return ActionDefinition.model_validate(value)
    except ValidationError as err:
        raise CustomActionError(f"That action is not valid: {first_error(err)}") from None


M = TypeVar("M")


def checked(build: Callable[[], M]) -> M:
    """Build a model from what a user typed; a CustomActionError with pydantic's first complaint."""
    try:
        return build()
    except ValidationError as err:
        raise CustomActionError(f"That is not valid: {first_error(err)}") from None


def description_for(name: str) -> str:
    """The job's description (memo, dashboard line, failure notice): names the action."""
    return f"Custom Action: {name}"


# --- Safari currency --------------------------------------------------------------------------


MARKERS = "applied:"


def marker_prefix(run_id: str) -> str:
    return f"{MARKERS}{run_id}/"


def marker_key(run_id: str, index: int) -> str:
    return f"{marker_prefix(run_id)}{index}"


def marker_run(key: str) -> str | None:
    """The run a marker key belongs to; None for a key that is no marker."""
    run, slash, _ = key.removeprefix(MARKERS).rpartition("/")
    return run if key.startswith(MARKERS) and slash else None


async def closed_runs_markers(
    safari: PersistentStore, run_id: str, is_over: Callable[[str], Awaitable[bool]]
) -> list[str]:
    """The marker keys of other runs that are over: of the oldest markers, at most PRUNE_RUNS
    runs' (read with a limit: a store filled before pruning holds thousands)."""
    runs: dict[str, list[str]] = {}
    for key in await safari.keys(MARKERS, limit=PRUNE_RUNS * MAX_OUTCOMES):
        run = marker_run(key)
        if run is not None and run != run_id:
            runs.setdefault(run, []).append(key)
    candidates = list(runs)[:PRUNE_RUNS]
    over: list[bool] = []
    for first in range(0, len(candidates), DESCRIBES_AT_ONCE):
        over += await asyncio.gather(*(is_over(run) for run in candidates[first : first + DESCRIBES_AT_ONCE]))
    return [key for run, done in zip(candidates, over, strict=True) if done for key in runs[run]]


async def _no_keys() -> list[str]:
    return []


def _changes(recorded: Snapshot) -> list[CurrencyChange]:
    return sorted(
        (CurrencyChange.model_validate(entry.value) for entry in recorded.entries.values()),
        key=lambda change: change.index,
    )


@refuses(CustomActionError)
async def paid_by(safari: PersistentStore, run_id: str) -> list[CurrencyChange]:
    """What the run `run_id` has paid, from its markers (nothing yet: an empty list)."""
    return _changes(await safari.snapshot(marker_prefix(run_id)))


@refuses(CustomActionError)
async def run_once(
    safari: PersistentStore,
    definition: ActionDefinition,
    user_id: DiscordId,
    role_ids: list[DiscordId],
    run_id: str,
    *,
    is_over: Callable[[str], Awaitable[bool]] | None = None,
) -> Evaluation:
    """Evaluate the action for this player and apply its currency changes exactly once per
    `run_id`, however often this is called (see the module docstring). With `is_over` (whether
    a run is over), the markers of closed runs are deleted in the same transact."""
    if not needs_balance(definition):
        return evaluate(definition, Player(user_id=user_id, role_ids=role_ids))
    stale: list[str] | None = None
    for _ in range(ATTEMPTS):
        # Three reads at once: this run's markers, the player, and (once) what to prune.
        snapshot, found, pruned = await asyncio.gather(
            safari.snapshot(marker_prefix(run_id)),
            player_versioned(safari, user_id),
            closed_runs_markers(safari, run_id, is_over) if is_over and stale is None else _no_keys(),
        )
        stale = pruned if stale is None else stale
        if snapshot.entries:
            changes = _changes(snapshot)
            return Evaluation(met=True, blocks=result_blocks(definition, changes), changes=changes)
        balance = None if found is None else found[0].balance
        evaluation = evaluate(definition, Player(user_id=user_id, role_ids=role_ids, balance=balance))
        if not evaluation.met or not evaluation.changes or found is None:
            return evaluation
        record, version = found
        updated = record.model_copy(update={"balance": evaluation.changes[-1].after}).model_dump(mode="json")
        ops = [TransactOp(key=player_key(user_id), value=updated, expected_version=version)]
        ops += [
            TransactOp(key=marker_key(run_id, c.index), value=c.model_dump(mode="json"), expected_version=0)
            for c in evaluation.changes
        ]
        ops += [TransactOp(key=key, delete=True) for key in stale]
        try:
            await safari.transact(ops)
        except VersionConflict:
            continue  # the balance moved, or a concurrent try of this run won: look again
        return evaluation
    raise CustomActionError("The Safari is too busy right now; try again in a moment.")


# --- arming and scheduling --------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledTask:
    job_id: str
    deadline: datetime


@dataclass(frozen=True)
class ArmResult:
    # armed: a new job; blocked: one is already armed (policy block); full: five are (stack).
    outcome: Literal["armed", "blocked", "full"]
    job_id: str
    deadline: datetime
    replaced: int = 0


class CustomActions:
    def __init__(self, client: Client, task_queue: str, jobs: Jobs | None = None) -> None:
        self._client = client
        self._task_queue = task_queue
        self.jobs = jobs or Jobs(client, task_queue)

    @refuses(CustomActionError)
    async def store(self, guild_id: DiscordId) -> PersistentStore:
        return await PersistentStore.create(self._client, actions_store_name(guild_id), self._task_queue)

    @refuses(CustomActionError)
    async def safari(self, guild_id: DiscordId) -> PersistentStore:
        return await safari_store(self._client, guild_id, self._task_queue)

    @refuses(CustomActionError)
    async def check(
        self,
        definition: ActionDefinition,
        *,
        guild_id: DiscordId,
        user_id: DiscordId,
        role_ids: list[DiscordId],
    ) -> Evaluation:
        """What running the action would do for this player now (their Safari balance read
        only when the action needs it); changes nothing."""
        balance = None
        if needs_balance(definition):
            found = await player_versioned(await self.safari(guild_id), user_id)
            balance = None if found is None else found[0].balance
        return evaluate(definition, Player(user_id=user_id, role_ids=role_ids, balance=balance))

    # --- definitions ----------------------------------------------------------------------

    @refuses(CustomActionError)
    async def create(self, guild_id: DiscordId, name: str, *, by: DiscordId) -> ActionDefinition:
        definition = parse_definition({"id": new_action_id(), "name": name, "created_by": by})
        store = await self.store(guild_id)
        await store.compare_and_set(action_key(definition.id), 0, definition.model_dump(mode="json"))
        return definition

    @refuses(CustomActionError)
    async def get(self, guild_id: DiscordId, action_id: ActionId) -> ActionDefinition | None:
        value = await (await self.store(guild_id)).get(action_key(action_id))
        return None if value is None else ActionDefinition.model_validate(value, context=STORED)

    @refuses(CustomActionError)
    async def require(self, guild_id: DiscordId, action_id: ActionId) -> ActionDefinition:
        found = await self.get(guild_id, action_id)
        if found is None:
            raise ActionNotFound("That custom action no longer exists.")
        return found

    @refuses(CustomActionError)
    async def all(self, guild_id: DiscordId) -> list[ActionDefinition]:
        values = await (await self.store(guild_id)).values(ACTION_KEY_PREFIX)
        return sorted(
            (ActionDefinition.model_validate(v, context=STORED) for v in values),
            key=lambda d: (d.name.lower(), d.id),
        )

    @refuses(CustomActionError)
    async def find(self, guild_id: DiscordId, name_or_id: str) -> ActionDefinition:
        wanted = " ".join(name_or_id.split()).lower()
        for definition in await self.all(guild_id):
            if wanted in (definition.id, definition.name.lower()):
                return definition
        raise ActionNotFound(f"There is no custom action named {name_or_id[:80]!r} in this server.")

    @refuses(CustomActionError)
    async def edit(
        self, guild_id: DiscordId, action_id: ActionId, change: Callable[[ActionDefinition], ActionDefinition]
    ) -> ActionDefinition:
        """Change one definition safely (compare-and-set); the result is validated again, so a
        change that breaks a rule (an 11th outcome) raises CustomActionError and writes nothing."""
        store = await self.store(guild_id)
        for _ in range(ATTEMPTS):
            found = await store.get_versioned(action_key(action_id))
            if found is None:
                raise ActionNotFound("That custom action no longer exists.")
            current = ActionDefinition.model_validate(found.value, context=STORED)
            changed = parse_definition(checked(functools.partial(change, current)).model_dump(mode="json"))
            if changed == current:
                return current
            try:
                await store.compare_and_set(
                    action_key(action_id), found.version, changed.model_dump(mode="json")
                )
            except VersionConflict:
                continue
            return changed
        raise CustomActionError("That action is being edited by someone else; try again.")

    @refuses(CustomActionError)
    async def delete(self, guild_id: DiscordId, action_id: ActionId) -> bool:
        return await (await self.store(guild_id)).delete(action_key(action_id))

    # --- jobs -----------------------------------------------------------------------------

    @refuses(CustomActionError)
    async def schedule(
        self,
        definition: ActionDefinition,
        *,
        guild_id: DiscordId,
        channel_id: DiscordId,
        by: DiscordId,
        delay: timedelta,
        names: Names = NO_NAMES,
    ) -> ScheduledTask:
        """A host's scheduled run (the editor's "Schedule"): posts for `by` at the deadline."""
        check_duration(delay, maximum=MAX_SCHEDULE)  # before anything is started
        key = f"{job_key_prefix(definition.id)}h{uuid.uuid4().hex[:10]}"
        # An absolute deadline computed once here, so what the bot shows is the job's own.
        deadline = self.jobs.now() + delay
        job_id = await self._start(definition, guild_id, channel_id, by, deadline, key, "host", names)
        return ScheduledTask(job_id, deadline)

    @refuses(CustomActionError)
    async def arm(
        self, definition: ActionDefinition, *, guild_id: DiscordId, channel_id: DiscordId, user_id: DiscordId
    ) -> ArmResult:
        """A player's run of a delayed action: arm it under its re-trigger policy."""
        delayed = definition.delayed
        if delayed is None:
            raise CustomActionError(f"**{definition.name}** is not a delayed action.")
        every_slot = range(1, MAX_STACK + 1)
        slots = every_slot if delayed.policy == "stack" else range(1, 2)
        replaced = 0
        for _ in range(3):
            if delayed.policy == "replace":
                replaced += await self._cancel_slots(guild_id, definition.id, user_id, every_slot)
            taken: list[tuple[datetime, str]] = []
            for slot in slots:
                job_id = job_id_for(guild_id, armed_key(definition.id, user_id, slot))
                deadline = await self.running_deadline(job_id)
                if deadline is None:
                    at = self.jobs.now() + delayed.delay
                    key = armed_key(definition.id, user_id, slot)
                    try:
                        started = await self._start(
                            definition, guild_id, channel_id, user_id, at, key, "player"
                        )
                    except SchedulingError:
                        deadline = await self.running_deadline(job_id)  # taken just now
                        if deadline is None:
                            raise
                    else:
                        status = await self.running_deadline(started)
                        return ArmResult(
                            "armed", started, status or self.jobs.now() + delayed.delay, replaced
                        )
                taken.append((deadline, job_id))
            if delayed.policy != "replace" and taken:
                deadline, job_id = min(taken)
                return ArmResult("full" if delayed.policy == "stack" else "blocked", job_id, deadline)
        raise CustomActionError("That action is being run again right now; try again in a moment.")

    async def _start(
        self,
        definition: ActionDefinition,
        guild_id: int,
        channel_id: int,
        user_id: int,
        at: datetime,
        key: str,
        origin: Literal["host", "player"],
        names: Names = NO_NAMES,
    ) -> str:
        return await self.jobs.schedule(
            EXECUTE_CUSTOM_ACTION,
            run_payload(definition, guild_id, channel_id, user_id, origin),
            guild_id=guild_id,
            channel_id=channel_id,
            scheduled_by=user_id,
            at=at,
            description=description_for(definition.name),
            key=key,
            names=names,
            check_channel=True,  # a channel of another server is refused by the job
        )

    @refuses(CustomActionError)
    async def run_over(self, run_id: str) -> bool:
        """Whether the job run `<workflow id>:<run id>` (a marker's run) has closed: its action
        will never be tried again. A run the server no longer knows is over too."""
        workflow_id, _, run = run_id.rpartition(":")
        try:
            description = await self._client.get_workflow_handle(workflow_id, run_id=run).describe()
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return True
            raise
        return description.status != WorkflowExecutionStatus.RUNNING

    @refuses(CustomActionError)
    async def running_deadline(self, job_id: str) -> datetime | None:
        """The deadline of a waiting job, from describe (answered by the server alone); None when
        there is no such job or it is over."""
        try:
            description = await self._client.get_workflow_handle(job_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        if description.status != WorkflowExecutionStatus.RUNNING:
            return None
        return description.typed_search_attributes.get(sa.JOB_DEADLINE)

    async def _cancel_slots(self, guild_id: int, action_id: str, user_id: int, slots: range) -> int:
        cancelled = 0
        for slot in slots:
            job_id = job_id_for(guild_id, armed_key(action_id, user_id, slot))
            if await self.running_deadline(job_id) is None:
                continue
            try:
                await self.jobs.cancel(job_id, by=user_id, guild_id=guild_id, reason="run again (replace)")
            except SchedulingError:
                continue  # it fired or was cancelled meanwhile
            cancelled += 1
            # Its id is free for the new job only once the cancelled run has closed.
            await asyncio.wait_for(self._client.get_workflow_handle(job_id).result(), 30)
        return cancelled

    @refuses(CustomActionError)
    async def tasks(self, guild_id: DiscordId, action_id: ActionId) -> list[JobSummary]:
        """This action's waiting jobs (host-scheduled and player-armed), soonest first."""
        prefix = job_key_prefix(action_id)
        jobs = await self.jobs.get_jobs(guild_id, action=EXECUTE_CUSTOM_ACTION)
        return [job for job in jobs if (job.key or "").startswith(prefix)]

    @refuses(CustomActionError)
    async def cancel(self, job_id: str, *, guild_id: DiscordId, by: DiscordId, as_host: bool) -> None:
        await self.jobs.cancel(
            job_id, by=by, guild_id=guild_id, as_host=as_host, reason="cancelled in Discord"
        )
