"""Every public client call, given one malformed argument at a time, refuses with the feature's
user-facing error, in words a user can read, and starts and writes nothing: no workflow started,
no store written, no update taken by a running job, chain, season or whisper.

One time-skipping server namespace for the module holds a world (a guild with a Safari game, a
custom action, settings, a member's zone, a store, a job, a chain, a season and a whisper); each
case compares what the server holds before and after its call.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.workflowservice.v1 import (
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
)
from temporalio.client import Client

from clients import safari
from clients.challenges import (
    ChallengeError,
    Challenges,
    channel_mention,
    needs_zone,
    parse_reminders,
    parse_rounds,
    rounds_from_json,
)
from clients.custom_actions import CustomActionError, CustomActions, paid_by, run_once, run_payload
from clients.guild_settings import HostRole, LogChannel, SettingsError, StoreSettings, WhispersSwitch
from clients.health import HealthChecks, HealthError
from clients.jobs import Jobs, SchedulingError
from clients.jobs_retry import retry_job
from clients.repeats import Repeats
from clients.seasons import SeasonError, Seasons
from clients.store import PersistentStore, StoreInputError
from clients.time_zones import StoreMemberZones, TimeZones, check_zone
from clients.whispers import WhisperError, Whispers
from tests.support.jobs_doubles import Doubles as JobDoubles
from tests.support.seasons_doubles import Doubles as SeasonDoubles
from tests.support.time_skipping import NamespaceEnvironment, SharedServer
from tests.support.whispers import whisper_seal
from worker import build_worker
from workflows.common import UserError
from workflows.custom_actions_models import ActionDefinition
from workflows.jobs_models import member_zones_store_name
from workflows.safari_engine import SafariError
from workflows.seasons_models import Submission
from workflows.store_models import TransactOp, settings_store_name
from workflows.times import TimeError

pytestmark = pytest.mark.asyncio(loop_scope="session")

TASK_QUEUE = "malformed"
GUILD, CHANNEL, USER, OTHER_GUILD, MESSAGE = 7001, 7002, 7003, 7004, 7005


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = nested(10_000)
HUGE = "x" * 100_000
# Malformed values by the kind of argument; `?` kinds take None as a valid value.
BAD: dict[str, list[tuple[str, object]]] = {
    "id": [
        ("None", None),
        ("minus1", -1),
        ("zero", 0),
        ("2**64", 2**64),
        ("x", "x"),
        ("empty", ""),
        ("float", 1.5),
        ("bool", True),
        ("huge", "9" * 5000),
        ("deep", DEEP),
    ],
    "text": [("None", None), ("int", 5), ("huge", HUGE), ("deep", DEEP)],
    "json": [("deep", DEEP), ("deep-in-object", {"a": DEEP}), ("nan", float("nan")), ("set", {1, 2})],
    "object": [("x", "x"), ("None", None), ("deep", {"content": DEEP}), ("nan", {"content": float("nan")})],
    "model": [("x", "x"), ("int", 5), ("deep", DEEP)],
    "delta": [("x", "x"), ("seconds", 5), ("max", timedelta.max), ("min", timedelta.min)],
    "when": [("x", "x"), ("int", 5)],
    "flag": [("yes", "yes"), ("one", 1)],
    "int": [("x", "x"), ("float", 1.5), ("bool", True), ("2**64", 2**64)],
    "ids": [("None", None), ("x", "x"), ("zero", [0]), ("minus1", [-1]), ("deep", DEEP)],
    "bytes": [("None", None), ("text", "[]"), ("brackets", b"[" * 100_000)],
    "callable": [("x", "x"), ("None", None)],
    "list": [("x", "x"), ("None", None), ("ints", [5]), ("deep", DEEP)],
}
for kind in ("id", "text", "model", "delta", "when", "int"):
    BAD[f"{kind}?"] = [(label, value) for label, value in BAD[kind] if value is not None]
BAD["flag"].append(("None", None))

# What a refusal written for a user never holds: a library's words, a pattern, a repr of a value.
FOREIGN = (
    "Input should",
    "pydantic",
    "validation error",
    "Value error",
    "Field required",
    "type=",
    "Traceback",
    "[A-Za-z",
    "^[",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "[[[[[",
)


@dataclass
class World:
    env: NamespaceEnvironment
    client: Client
    jobs: Jobs
    repeats: Repeats
    actions: CustomActions
    challenges: Challenges
    whispers: Whispers
    seasons: Seasons
    health: HealthChecks
    settings: StoreSettings
    zones: TimeZones
    store: PersistentStore
    safari: PersistentStore
    action: ActionDefinition
    job_id: str
    whisper_id: str
    stores: list[PersistentStore] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    # The footprint after the last case: the next one's before (nothing else moves the server).
    last: dict[str, object] | None = None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(shared_time_server: SharedServer) -> AsyncIterator[World]:
    env = NamespaceEnvironment(await shared_time_server.get(), f"test-{uuid.uuid4().hex[:12]}")
    client = env.client
    activities = [*JobDoubles(env).activities(), *SeasonDoubles(env).activities(announcements=False)]
    async with build_worker(client, TASK_QUEUE, activities):
        settings = StoreSettings(client, TASK_QUEUE)
        jobs = Jobs(client, TASK_QUEUE)
        actions = CustomActions(client, TASK_QUEUE, jobs)
        challenges = Challenges(client, TASK_QUEUE)
        whispers = Whispers(client, TASK_QUEUE, whisper_seal())
        seasons = Seasons(client, TASK_QUEUE, settings)
        zones = TimeZones(settings, StoreMemberZones(client, TASK_QUEUE))
        game = await safari.safari_store(client, GUILD, TASK_QUEUE)
        await safari.setup_game(game)
        await safari.join(game, USER, "Ann")
        action = await actions.create(GUILD, "Wave", by=USER)
        await settings.write(GUILD, "probe", "kept")
        await zones.set_member(GUILD, USER, "Europe/Paris")
        store = await PersistentStore.create(client, "sweep", TASK_QUEUE)
        await store.set("kept", {"a": 1})
        job_id = await jobs.schedule(
            "post_message",
            {"content": "hello"},
            guild_id=GUILD,
            channel_id=CHANNEL,
            scheduled_by=USER,
            delay=timedelta(days=5),
            key="world",
        )
        chain = await challenges.create(
            key="world",
            title="World",
            guild_id=GUILD,
            channel_id=CHANNEL,
            host_id=USER,
            rounds=parse_rounds("5d Round 1"),
        )
        season = await seasons.create(guild_id=GUILD, channel_id=CHANNEL, host_id=USER)
        del season
        whisper_id = f"whisper-{GUILD}-{USER}-{'0' * 16}"  # none is sent: Discord's part is not here
        stores = [
            game,
            await actions.store(GUILD),
            PersistentStore.attach(client, settings_store_name(GUILD), TASK_QUEUE),
            PersistentStore.attach(client, member_zones_store_name(GUILD), TASK_QUEUE),
            store,
        ]
        yield World(
            env=env,
            client=client,
            jobs=jobs,
            repeats=Repeats(client, TASK_QUEUE),
            actions=actions,
            challenges=challenges,
            whispers=whispers,
            seasons=seasons,
            health=HealthChecks(client, TASK_QUEUE),
            settings=settings,
            zones=zones,
            store=store,
            safari=game,
            action=action,
            job_id=job_id,
            whisper_id=whisper_id,
            stores=stores,
            workflows=[job_id, chain, f"season-{GUILD}"],
        )
        await env.terminate_open_workflows()


async def footprint(world: World) -> dict[str, object]:
    """What a call could have changed: the workflows the server holds, each watched store's
    revision, and the history length of the world's workflows (an update taken adds events)."""
    namespace = world.client.namespace
    service = world.client.workflow_service
    opened = await service.list_open_workflow_executions(
        ListOpenWorkflowExecutionsRequest(namespace=namespace, maximum_page_size=1000)
    )
    closed = await service.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(namespace=namespace, maximum_page_size=1000)
    )
    started = sorted(
        (info.execution.workflow_id, info.execution.run_id)
        for info in [*opened.executions, *closed.executions]
    )
    revisions = {store.name: (await store.usage()).revision for store in world.stores}
    histories = {
        workflow_id: (await world.client.get_workflow_handle(workflow_id).describe()).history_length
        for workflow_id in world.workflows
    }
    return {"started": started, "revisions": revisions, "histories": histories}


@dataclass(frozen=True)
class Call:
    """One client call: its valid arguments, and the kind of each argument to spoil."""

    name: str
    error: type[UserError]
    call: Callable[[World], Callable[..., Any]]
    valid: Callable[[World], dict[str, object]]
    kinds: dict[str, str]


def _method(owner: str, verb: str) -> Callable[[World], Callable[..., Any]]:
    """The world's `owner` client's method named `verb`."""
    return lambda w: getattr(getattr(w, owner), verb)


def _guild(**more: object) -> Callable[[World], dict[str, object]]:
    return lambda w: {"guild_id": GUILD, **more}


ROUND = parse_rounds("6d Round 2")[0]
SUBMISSION = Submission(kind="writing", text="a cat")
CALLS: list[Call] = [
    # --- jobs ---
    Call(
        "jobs.schedule",
        SchedulingError,
        lambda w: w.jobs.schedule,
        lambda w: {
            "action": "post_message",
            "payload": {"content": "x"},
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "scheduled_by": USER,
            "delay": timedelta(hours=1),
            "key": "fresh",
        },
        {
            "action": "text",
            "payload": "object",
            "guild_id": "id",
            "channel_id": "id",
            "scheduled_by": "id",
            "delay": "delta",
            "reminders": "list",
            "description": "text",
            "key": "text?",
        },
    ),
    Call(
        "jobs.status",
        SchedulingError,
        lambda w: w.jobs.status,
        lambda w: {"job_id": w.job_id},
        {"job_id": "text"},
    ),
    *[
        Call(
            f"jobs.{verb}",
            SchedulingError,
            _method("jobs", verb),
            lambda w: {"job_id": w.job_id, "by": USER, "guild_id": GUILD},
            {"job_id": "text", "by": "id", "guild_id": "id", "as_host": "flag"},
        )
        for verb in ("cancel", "pause", "resume", "run_now")
    ],
    Call(
        "jobs.reschedule",
        SchedulingError,
        lambda w: w.jobs.reschedule,
        lambda w: {"job_id": w.job_id, "by": USER, "guild_id": GUILD, "delay": timedelta(days=2)},
        {"job_id": "text", "by": "id", "guild_id": "id", "delay": "delta", "as_host": "flag"},
    ),
    Call(
        "jobs.owner",
        SchedulingError,
        lambda w: w.jobs.owner,
        lambda w: {"job_id": w.job_id},
        {"job_id": "text"},
    ),
    Call(
        "jobs.shift",
        SchedulingError,
        lambda w: w.jobs.shift,
        lambda w: {"job_id": w.job_id, "by_how_much": timedelta(hours=1), "by": USER, "guild_id": GUILD},
        {"by_how_much": "delta", "by": "id", "guild_id": "id"},
    ),
    Call(
        "jobs.announced",
        SchedulingError,
        lambda w: w.jobs.announced,
        lambda w: {"job_id": w.job_id, "channel_id": CHANNEL, "message_id": MESSAGE, "title": "t"},
        {"job_id": "text", "channel_id": "id", "message_id": "id", "title": "text"},
    ),
    Call(
        "jobs.cancel_by_key",
        SchedulingError,
        lambda w: w.jobs.cancel_by_key,
        lambda w: {"key": "world", "guild_id": GUILD, "by": USER},
        {"key": "text", "guild_id": "id", "by": "id", "reason": "text"},
    ),
    Call(
        "jobs.get_jobs",
        SchedulingError,
        lambda w: w.jobs.get_jobs,
        _guild(),
        {"guild_id": "id", "action": "text?", "channel_id": "id?", "scheduled_by": "id?"},
    ),
    Call(
        "jobs.page_jobs",
        SchedulingError,
        lambda w: w.jobs.page_jobs,
        _guild(page=1, size=10),
        {"guild_id": "id", "page": "int", "size": "int"},
    ),
    Call(
        "jobs.retry_job",
        SchedulingError,
        lambda w: lambda **kw: retry_job(w.client, w.jobs, **kw),
        lambda w: {"guild_id": GUILD, "suffix": "world", "run": "r", "by": USER},
        {"guild_id": "id", "suffix": "text", "run": "text", "by": "id"},
    ),
    # --- repeats ---
    Call(
        "repeats.create",
        SchedulingError,
        lambda w: w.repeats.create,
        lambda w: {
            "name": "daily",
            "every": "every day at 20:00",
            "zone": "UTC",
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "scheduled_by": USER,
            "action": "post_message",
            "payload": {"content": "x"},
        },
        {
            "name": "text",
            "every": "text",
            "zone": "text",
            "guild_id": "id",
            "channel_id": "id",
            "scheduled_by": "id",
            "action": "text",
            "payload": "object",
            "count": "int?",
            "until": "when?",
        },
    ),
    *[
        Call(
            f"repeats.{verb}",
            SchedulingError,
            _method("repeats", verb),
            _guild(name="daily"),
            {"guild_id": "id", "name": "text"},
        )
        for verb in ("handle", "info")
    ],
    Call("repeats.names", SchedulingError, lambda w: w.repeats.names, _guild(), {"guild_id": "id"}),
    *[
        Call(
            f"repeats.{verb}",
            SchedulingError,
            _method("repeats", verb),
            _guild(name="daily", by=USER),
            {"guild_id": "id", "name": "text", "by": "id"},
        )
        for verb in ("pause", "resume", "run_now", "skip_next", "end")
    ],
    Call(
        "repeats.change",
        SchedulingError,
        lambda w: w.repeats.change,
        _guild(name="daily", every="every day at 21:00", zone="UTC", by=USER),
        {"guild_id": "id", "name": "text", "every": "text", "zone": "text", "by": "id"},
    ),
    # --- store ---
    *[
        Call(
            f"store.{verb}",
            StoreInputError,
            _method("store", verb),
            lambda w: {"key": "k"},
            {"key": "text"},
        )
        for verb in ("get", "get_versioned", "version", "has", "delete")
    ],
    *[
        Call(
            f"store.{verb}",
            StoreInputError,
            _method("store", verb),
            lambda w: {"prefix": ""},
            {"prefix": "text"},
        )
        for verb in ("snapshot", "entries", "values")
    ],
    Call(
        "store.keys",
        StoreInputError,
        lambda w: w.store.keys,
        lambda w: {},
        {"prefix": "text", "limit": "int?"},
    ),
    Call(
        "store.set",
        StoreInputError,
        lambda w: w.store.set,
        lambda w: {"key": "k", "value": 1},
        {"key": "text", "value": "json"},
    ),
    Call(
        "store.compare_and_set",
        StoreInputError,
        lambda w: w.store.compare_and_set,
        lambda w: {"key": "k", "expected_version": 0, "value": 1},
        {"key": "text", "expected_version": "int", "value": "json"},
    ),
    Call(
        "store.transact",
        StoreInputError,
        lambda w: w.store.transact,
        lambda w: {"ops": [TransactOp(key="k", value=1)]},
        {"ops": "list"},
    ),
    Call(
        "store.modify",
        StoreInputError,
        lambda w: w.store.modify,
        lambda w: {"key": "k", "change": lambda value: 1},
        {"key": "text", "change": "callable", "attempts": "int"},
    ),
    Call(
        "store.create",
        StoreInputError,
        lambda w: lambda **kw: PersistentStore.create(w.client, task_queue=TASK_QUEUE, **kw),
        lambda w: {"name": "fresh-store"},
        {"name": "text", "limits": "model?", "continue_after_updates": "int?", "mirror_to_memo": "flag"},
    ),
    Call(
        "store.attach",
        StoreInputError,
        lambda w: lambda **kw: PersistentStore.attach(w.client, task_queue=TASK_QUEUE, **kw),
        lambda w: {"name": "sweep"},
        {"name": "text"},
    ),
    # --- settings and time zones ---
    Call("settings.read", SettingsError, lambda w: w.settings.read, _guild(), {"guild_id": "id"}),
    Call(
        "settings.write",
        SettingsError,
        lambda w: w.settings.write,
        _guild(key="probe", value="changed"),
        {"guild_id": "id", "key": "text", "value": "json"},
    ),
    Call("host_role.get", SettingsError, lambda w: HostRole(w.settings).get, _guild(), {"guild_id": "id"}),
    Call(
        "host_role.set",
        SettingsError,
        lambda w: HostRole(w.settings).set,
        _guild(role_id=MESSAGE),
        {"guild_id": "id", "role_id": "id?"},
    ),
    Call(
        "log_channel.set",
        SettingsError,
        lambda w: LogChannel(w.settings).set,
        _guild(channel_id=CHANNEL),
        {"guild_id": "id", "channel_id": "id?"},
    ),
    Call(
        "whispers_switch.set",
        SettingsError,
        lambda w: WhispersSwitch(w.settings).set,
        _guild(enabled=False),
        {"guild_id": "id", "enabled": "flag"},
    ),
    Call(
        "time_zones.check_zone", TimeError, lambda w: check_zone, lambda w: {"name": "UTC"}, {"name": "text"}
    ),
    Call("time_zones.server", TimeError, lambda w: w.zones.server, _guild(), {"guild_id": "id"}),
    Call(
        "time_zones.set_server",
        TimeError,
        lambda w: w.zones.set_server,
        _guild(name="UTC"),
        {"guild_id": "id", "name": "text?"},
    ),
    Call(
        "time_zones.member",
        TimeError,
        lambda w: w.zones.member,
        _guild(user_id=USER),
        {"guild_id": "id", "user_id": "id"},
    ),
    Call(
        "time_zones.set_member",
        TimeError,
        lambda w: w.zones.set_member,
        _guild(user_id=USER, name="UTC"),
        {"guild_id": "id", "user_id": "id", "name": "text?"},
    ),
    Call(
        "time_zones.parse",
        TimeError,
        lambda w: w.zones.parse,
        _guild(user_id=USER, text="2h", now=datetime(2026, 1, 1, tzinfo=UTC)),
        {"guild_id": "id", "user_id": "id", "text": "text", "now": "when", "maximum": "delta"},
    ),
    # --- safari ---
    Call(
        "safari.safari_store",
        SafariError,
        lambda w: lambda **kw: safari.safari_store(w.client, task_queue=TASK_QUEUE, **kw),
        _guild(),
        {"guild_id": "id"},
    ),
    Call(
        "safari.existing_store",
        SafariError,
        lambda w: lambda **kw: safari.existing_store(w.client, task_queue=TASK_QUEUE, **kw),
        _guild(),
        {"guild_id": "id"},
    ),
    Call(
        "safari.join",
        SafariError,
        lambda w: lambda **kw: safari.join(w.safari, **kw),
        lambda w: {"player_id": USER + 1, "name": "Bo"},
        {"player_id": "id", "name": "text"},
    ),
    Call(
        "safari.player_versioned",
        SafariError,
        lambda w: lambda **kw: safari.player_versioned(w.safari, **kw),
        lambda w: {"player_id": USER},
        {"player_id": "id"},
    ),
    Call(
        "safari.setup_game",
        SafariError,
        lambda w: lambda **kw: safari.setup_game(w.safari, **kw),
        lambda w: {},
        {"settings": "model?"},
    ),
    Call(
        "safari.load_game",
        SafariError,
        lambda w: lambda **kw: safari.load_game(w.safari, **kw),
        lambda w: {},
        {"results": "flag"},
    ),
    # --- custom actions ---
    *[
        Call(
            f"custom_actions.{verb}",
            CustomActionError,
            _method("actions", verb),
            _guild(),
            {"guild_id": "id"},
        )
        for verb in ("store", "safari", "all")
    ],
    *[
        Call(
            f"custom_actions.{verb}",
            CustomActionError,
            _method("actions", verb),
            lambda w: {"guild_id": GUILD, "action_id": w.action.id},
            {"guild_id": "id", "action_id": "text"},
        )
        for verb in ("get", "require", "delete", "tasks")
    ],
    Call(
        "custom_actions.check",
        CustomActionError,
        lambda w: w.actions.check,
        lambda w: {"definition": w.action, "guild_id": GUILD, "user_id": USER, "role_ids": []},
        {"definition": "model", "guild_id": "id", "user_id": "id", "role_ids": "ids"},
    ),
    Call(
        "custom_actions.create",
        CustomActionError,
        lambda w: w.actions.create,
        _guild(name="Fresh", by=USER),
        {"guild_id": "id", "name": "text", "by": "id"},
    ),
    Call(
        "custom_actions.find",
        CustomActionError,
        lambda w: w.actions.find,
        _guild(name_or_id="Wave"),
        {"guild_id": "id", "name_or_id": "text"},
    ),
    Call(
        "custom_actions.edit",
        CustomActionError,
        lambda w: w.actions.edit,
        lambda w: {"guild_id": GUILD, "action_id": w.action.id, "change": lambda d: d},
        {"guild_id": "id", "action_id": "text", "change": "callable"},
    ),
    Call(
        "custom_actions.schedule",
        CustomActionError,
        lambda w: w.actions.schedule,
        lambda w: {
            "definition": w.action,
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "by": USER,
            "delay": timedelta(hours=1),
        },
        {"definition": "model", "guild_id": "id", "channel_id": "id", "by": "id", "delay": "delta"},
    ),
    Call(
        "custom_actions.arm",
        CustomActionError,
        lambda w: w.actions.arm,
        lambda w: {"definition": w.action, "guild_id": GUILD, "channel_id": CHANNEL, "user_id": USER},
        {"definition": "model", "guild_id": "id", "channel_id": "id", "user_id": "id"},
    ),
    Call(
        "custom_actions.cancel",
        CustomActionError,
        lambda w: w.actions.cancel,
        lambda w: {"job_id": w.job_id, "guild_id": GUILD, "by": USER, "as_host": True},
        {"job_id": "text", "guild_id": "id", "by": "id", "as_host": "flag"},
    ),
    Call(
        "custom_actions.run_once",
        CustomActionError,
        lambda w: lambda **kw: run_once(w.safari, **kw),
        lambda w: {"definition": w.action, "user_id": USER, "role_ids": [], "run_id": "job-1:r"},
        {"definition": "model", "user_id": "id", "role_ids": "ids", "run_id": "text"},
    ),
    Call(
        "custom_actions.paid_by",
        CustomActionError,
        lambda w: lambda **kw: paid_by(w.safari, **kw),
        lambda w: {"run_id": "job-1:r"},
        {"run_id": "text"},
    ),
    Call(
        "custom_actions.run_payload",
        CustomActionError,
        lambda w: run_payload,
        lambda w: {
            "definition": w.action,
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "user_id": USER,
            "origin": "host",
        },
        {"definition": "model", "guild_id": "id", "channel_id": "id", "user_id": "id", "origin": "text"},
    ),
    # --- challenges ---
    Call(
        "challenges.create",
        ChallengeError,
        lambda w: w.challenges.create,
        lambda w: {
            "key": "fresh",
            "title": "Fresh",
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "host_id": USER,
            "rounds": [ROUND],
        },
        {
            "key": "text",
            "title": "text",
            "guild_id": "id",
            "channel_id": "id",
            "host_id": "id",
            "rounds": "list",
            "on_failure": "text",
            "rounds_per_run": "int?",
        },
    ),
    Call(
        "challenges.status",
        ChallengeError,
        lambda w: w.challenges.status,
        _guild(key="world"),
        {"guild_id": "id", "key": "text"},
    ),
    Call("challenges.running", ChallengeError, lambda w: w.challenges.running, _guild(), {"guild_id": "id"}),
    *[
        Call(
            f"challenges.{verb}",
            ChallengeError,
            _method("challenges", verb),
            _guild(key="world", by=USER),
            {"guild_id": "id", "key": "text", "by": "id", "as_host": "flag"},
        )
        for verb in ("pause", "resume", "cancel", "skip")
    ],
    Call(
        "challenges.add_round",
        ChallengeError,
        lambda w: w.challenges.add_round,
        _guild(key="world", round_=ROUND, by=USER),
        {"guild_id": "id", "key": "text", "round_": "model", "by": "id"},
    ),
    Call(
        "challenges.shift",
        ChallengeError,
        lambda w: w.challenges.shift,
        _guild(key="world", delta=timedelta(hours=1), by=USER, whole=True),
        {"guild_id": "id", "key": "text", "delta": "delta", "by": "id", "whole": "flag", "round": "int?"},
    ),
    Call(
        "challenges.parse_rounds",
        ChallengeError,
        lambda w: parse_rounds,
        lambda w: {"text": "2h Round 1"},
        {"text": "text", "zone": "text", "now": "when?", "reminders": "list"},
    ),
    Call(
        "challenges.parse_reminders",
        ChallengeError,
        lambda w: parse_reminders,
        lambda w: {"text": "30m"},
        {"text": "text"},
    ),
    Call(
        "challenges.channel_mention",
        ChallengeError,
        lambda w: channel_mention,
        lambda w: {"text": "<#5>"},
        {"text": "text"},
    ),
    Call(
        "challenges.needs_zone",
        ChallengeError,
        lambda w: needs_zone,
        lambda w: {"text": "2h R"},
        {"text": "text"},
    ),
    Call(
        "challenges.rounds_from_json",
        ChallengeError,
        lambda w: rounds_from_json,
        lambda w: {"data": b"[]"},
        {"data": "bytes"},
    ),
    # --- whispers ---
    Call(
        "whispers.send",
        WhisperError,
        lambda w: w.whispers.send,
        lambda w: {
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "sender_id": USER,
            "recipient_id": USER + 10,
            "text": "hi",
        },
        {
            "guild_id": "id",
            "channel_id": "id",
            "sender_id": "id",
            "recipient_id": "id",
            "text": "text",
            "expires_after": "delta",
            "reread_window": "delta?",
            "whisper_id": "text?",
        },
    ),
    Call(
        "whispers.read",
        WhisperError,
        lambda w: w.whispers.read,
        lambda w: {"whisper_id": w.whisper_id, "reader_id": USER + 10},
        {"whisper_id": "text", "reader_id": "id"},
    ),
    Call(
        "whispers.cancel",
        WhisperError,
        lambda w: w.whispers.cancel,
        lambda w: {"whisper_id": w.whisper_id, "by": USER},
        {"whisper_id": "text", "by": "id"},
    ),
    Call(
        "whispers.operator_cancel",
        WhisperError,
        lambda w: w.whispers.operator_cancel,
        lambda w: {"whisper_id": w.whisper_id, "by": "ops"},
        {"whisper_id": "text", "by": "text", "reason": "text"},
    ),
    Call(
        "whispers.status",
        WhisperError,
        lambda w: w.whispers.status,
        lambda w: {"whisper_id": w.whisper_id},
        {"whisper_id": "text"},
    ),
    # --- seasons ---
    Call("seasons.guild_rules", SeasonError, lambda w: w.seasons.guild_rules, _guild(), {"guild_id": "id"}),
    Call(
        "seasons.set_guild_rules",
        SeasonError,
        lambda w: w.seasons.set_guild_rules,
        _guild(changes={}),
        {"guild_id": "id", "changes": "model"},
    ),
    Call(
        "seasons.create",
        SeasonError,
        lambda w: w.seasons.create,
        lambda w: {"guild_id": OTHER_GUILD, "channel_id": CHANNEL, "host_id": USER},
        {"guild_id": "id", "channel_id": "id", "host_id": "id", "overrides": "model?", "open_until": "when?"},
    ),
    *[
        Call(
            f"seasons.{verb}",
            SeasonError,
            _method("seasons", verb),
            _guild(player_id=USER + 1),
            {"guild_id": "id", "player_id": "id"},
        )
        for verb in ("join", "player_turn")
    ],
    *[
        Call(
            f"seasons.{verb}",
            SeasonError,
            _method("seasons", verb),
            _guild(by=USER),
            {"guild_id": "id", "by": "id", "as_host": "flag"},
        )
        for verb in ("start", "end")
    ],
    Call(
        "seasons.move_close",
        SeasonError,
        lambda w: w.seasons.move_close,
        _guild(delta=timedelta(hours=1), by=USER),
        {"guild_id": "id", "delta": "delta", "by": "id"},
    ),
    Call("seasons.status", SeasonError, lambda w: w.seasons.status, _guild(), {"guild_id": "id"}),
    Call(
        "seasons.announced",
        SeasonError,
        lambda w: w.seasons.announced,
        _guild(channel_id=CHANNEL, message_id=MESSAGE),
        {"guild_id": "id", "channel_id": "id", "message_id": "id"},
    ),
    Call(
        "seasons.turns_anywhere",
        SeasonError,
        lambda w: w.seasons.turns_anywhere,
        lambda w: {"guild_ids": [GUILD], "player_id": USER},
        {"guild_ids": "ids", "player_id": "id"},
    ),
    Call(
        "seasons.claim",
        SeasonError,
        lambda w: w.seasons.claim,
        lambda w: {"turn_id": f"season-{GUILD}-g1-t1", "player_id": USER},
        {"turn_id": "text", "player_id": "id"},
    ),
    Call(
        "seasons.submit",
        SeasonError,
        lambda w: w.seasons.submit,
        lambda w: {"turn_id": f"season-{GUILD}-g1-t1", "player_id": USER, "submission": SUBMISSION},
        {"turn_id": "text", "player_id": "id", "submission": "model"},
    ),
    Call(
        "seasons.host_turn",
        SeasonError,
        lambda w: w.seasons.host_turn,
        _guild(player_id=USER, by=USER, as_host=True),
        {"guild_id": "id", "player_id": "id", "by": "id", "as_host": "flag", "extend": "delta?"},
    ),
    # --- health ---
    Call(
        "health.start",
        HealthError,
        lambda w: w.health.start,
        lambda w: {"guild_id": OTHER_GUILD, "admin_channel_id": CHANNEL},
        {
            "guild_id": "id?",
            "admin_channel_id": "id?",
            "interval": "delta",
            "started_by": "id?",
            "checks_per_run": "int?",
            "alert_role_id": "id?",
        },
    ),
    *[
        Call(
            f"health.{verb}",
            HealthError,
            _method("health", verb),
            _guild(),
            {"guild_id": "id?"},
        )
        for verb in ("is_running", "status")
    ],
    *[
        Call(
            f"health.{verb}",
            HealthError,
            _method("health", verb),
            _guild(by=USER),
            {"guild_id": "id?", "by": "id"},
        )
        for verb in ("pause", "resume", "run_now")
    ],
    Call(
        "health.stop", HealthError, lambda w: w.health.stop, _guild(by=USER), {"guild_id": "id?", "by": "id?"}
    ),
]

CASES = [
    pytest.param(call, argument, value, id=f"{call.name}-{argument}-{label}")
    for call in CALLS
    for argument, kind in call.kinds.items()
    for label, value in BAD[kind]
]


@pytest.mark.parametrize(("call", "argument", "value"), CASES)
async def test_a_malformed_argument_is_refused_for_the_user_and_changes_nothing(
    world: World, call: Call, argument: str, value: object
) -> None:
    arguments = {**call.valid(world), argument: value}
    before = world.last or await footprint(world)
    try:
        returned = call.call(world)(**arguments)
        if inspect.isawaitable(returned):
            await asyncio.wait_for(_awaited(returned), timeout=20)
    except UserError as err:
        refused: BaseException | None = err
    except Exception as err:
        refused = err
    else:
        refused = None
    after = world.last = await footprint(world)
    assert after == before, "something was started or written"
    assert refused is not None, "accepted"
    assert isinstance(refused, call.error), f"{type(refused).__name__}: {str(refused)[:200]}"
    message = str(refused)
    assert message.strip(), "no message"
    assert len(message) <= 400, "more than a line"
    assert not any(words in message for words in FOREIGN), message[:300]


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
