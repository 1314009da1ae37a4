"""PersistentStore: CastBot's named, persistent map, kept by one Temporal workflow per name.

    store = await PersistentStore.create(client, "whispers", task_queue)
    await store.set("w-1", {"to": 42, "text": "psst"})
    await store.get("w-1")

Writes are workflow updates: `set` returns once the write is in the workflow's history, so it
survives a crash of any process. Reads are queries to the workflow, with no cache in this
process, so the bot and the worker (or any number of replicas) see each other's writes at once.
`compare_and_set` (and `modify`, a loop over it) is how two processes change one key safely.

CastBot's `load()` and `flush()` are gone: there is nothing to load and nothing to flush.

Throughput: the server admits at most 10 updates in flight on one workflow, so this process
keeps at most `max_in_flight` (8) writes in flight per store, and a write the server turns
away (too many in flight from several processes, or caught by a continue-as-new) is sent
again with backoff, under the same update id. A query the server refuses as busy (it buffers
only a few while a workflow task is in flight) is sent again with backoff too.
`python -m bench.store_writes` measured about 80 writes/s from one sequential writer and
250-330 writes/s from 8 or more concurrent writers on a 2-core machine. One store suits one
guild's game or one feature's records, not a firehose.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, JsonValue
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import UpdateMethodMultiParam

from clients.arguments import JsonData, refuses
from clients.calls import Calls, Refusals, said
from workflows.common import UserError
from workflows.store import StoreWorkflow
from workflows.store_models import (
    CONFLICT_ERROR,
    LIMIT_ERROR,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    NAME_PATTERN,
    CompareAndSetRequest,
    DeleteRequest,
    EntriesRequest,
    GetRequest,
    KeysRequest,
    SetRequest,
    SizeRequest,
    SizeResult,
    Snapshot,
    StoreInput,
    StoreLimits,
    TransactOp,
    TransactRequest,
    TransactResult,
    json_size,
    key_size,
    store_workflow_id,
)

R = TypeVar("R")


class StoreError(Exception):
    """A store request that was refused or could not be made; the message says why."""


class StoreLimitError(StoreError, UserError):
    """The request would break a limit (value size, key count, total size, the server's size of
    one request); nothing was written. A user may be shown it: a full store is a refusal."""


class StoreInputError(StoreError, UserError):
    """A malformed argument (a name, key or value no store takes); nothing was sent."""


def _key(key: str) -> str:
    # The workflow's own limit, in its words, checked before a key that can never be stored is sent.
    if key_size(key) > MAX_KEY_BYTES:
        raise ValueError(f"a key may be at most {MAX_KEY_BYTES} bytes, this one is {key_size(key):,}")
    return key


Key = Annotated[str, AfterValidator(_key)]


class VersionConflict(StoreError):
    """compare_and_set found another version than expected; nothing was written."""

    def __init__(self, message: str, *, key: str, expected_version: int, current_version: int) -> None:
        super().__init__(message)
        self.key = key
        self.expected_version = expected_version
        self.current_version = current_version


@dataclass(frozen=True)
class Versioned:
    value: JsonValue
    version: int


class PersistentStore:
    """One named store. Get it with `await PersistentStore.create(...)`, never the constructor."""

    # One object per (Temporal client, name) in this process, like CastBot's singleton per name.
    _registry: ClassVar[dict[tuple[int, str], PersistentStore]] = {}
    # Writes this process keeps in flight on one store; the server refuses an 11th at once.
    max_in_flight: ClassVar[int] = 8
    # Queries this process keeps in flight on one store: a crowd of them (300 players pressing
    # Join) otherwise outruns the server's query buffer and the worker, and times out.
    max_queries_in_flight: ClassVar[int] = 8

    def __init__(self, client: Client, name: str, task_queue: str) -> None:
        self.name = name
        self.task_queue = task_queue
        self.workflow_id = store_workflow_id(name)
        self._client = client
        self._handle: WorkflowHandle[StoreWorkflow, None] = client.get_workflow_handle_for(
            StoreWorkflow.run, self.workflow_id
        )
        self._ready = False
        self._starting: asyncio.Task[None] | None = None
        self._calls = Calls(
            client,
            Refusals(
                refused=StoreError,
                over=self._missing("is not running (workflow {id}); create it with PersistentStore.create"),
                kinds={LIMIT_ERROR: said(StoreLimitError), CONFLICT_ERROR: _conflict},
                too_large=lambda limit: StoreLimitError(f"store {name!r}: {limit}"),
            ),
            max_in_flight=self.max_in_flight,
            max_queries_in_flight=self.max_queries_in_flight,
        )

    @classmethod
    @refuses(StoreInputError)
    async def create(
        cls,
        client: Client,
        name: str,
        task_queue: str,
        *,
        limits: StoreLimits | None = None,
        continue_after_updates: int | None = None,
        mirror_to_memo: bool = False,
    ) -> PersistentStore:
        """The store named `name`, started if it is not running yet (idempotent).

        `limits`, `continue_after_updates` and `mirror_to_memo` only apply when this call starts
        the workflow; a store already running keeps its own.
        """
        if not re.fullmatch(NAME_PATTERN, name):
            raise StoreInputError(f"a store name is 1 to 200 of A-Z a-z 0-9 _ . : - (not {name!r})")
        key = (id(client), name)
        store = cls._registry.get(key)
        if store is None:
            store = cls._registry[key] = cls(client, name, task_queue)
        if not store._ready:
            options: dict[str, Any] = {"limits": limits or StoreLimits(), "mirror_to_memo": mirror_to_memo}
            if continue_after_updates is not None:
                options["continue_after_updates"] = continue_after_updates
            inp = StoreInput(name=name, **options)
            if store._starting is None or store._starting.done():
                store._starting = asyncio.ensure_future(store._start(inp))
            starting = store._starting
            try:
                await asyncio.shield(starting)
            except BaseException:
                if starting.done() and store._starting is starting:
                    store._starting = None  # the next create tries again
                raise
            store._ready = True
        return store

    @classmethod
    @refuses(StoreInputError)
    def attach(cls, client: Client, name: str, task_queue: str) -> PersistentStore:
        """The store named `name` for reading, without starting it: a read of a store that was
        never started raises StoreError ("does not exist") instead of creating an empty one."""
        if not re.fullmatch(NAME_PATTERN, name):
            raise StoreInputError(f"a store name is 1 to 200 of A-Z a-z 0-9 _ . : - (not {name!r})")
        # Not registered: a later `create` starts the store on its own caller's queue.
        return cls._registry.get((id(client), name)) or cls(client, name, task_queue)

    async def _start(self, inp: StoreInput) -> None:
        try:
            await self._client.start_workflow(
                StoreWorkflow.run,
                inp,
                id=self.workflow_id,
                task_queue=self.task_queue,
                # A second create, here or in another process, attaches to the running store.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A store whose workflow was closed (terminated by hand) is not silently
                # replaced by an empty one: `temporal workflow reset` brings it back.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"store {self.name}",
                static_details="a PersistentStore: writes are updates, reads are queries",
            )
        except WorkflowAlreadyStartedError:
            raise StoreError(
                f"store {self.name!r} was closed (workflow {self.workflow_id}); bring it back with "
                f"`temporal workflow reset --workflow-id {self.workflow_id} --type LastWorkflowTask`"
            ) from None

    # --- reads (queries) ------------------------------------------------------------------------

    @refuses(StoreInputError)
    async def get(self, key: Key, default: JsonValue = None) -> JsonValue:
        found = await self.get_versioned(key)
        return default if found is None else found.value

    @refuses(StoreInputError)
    async def get_versioned(self, key: Key) -> Versioned | None:
        """The value with its version (for compare_and_set), or None when the key is absent."""
        result = await self._query(StoreWorkflow.get, GetRequest(key=key))
        return Versioned(result.value, result.version) if result.found else None

    @refuses(StoreInputError)
    async def version(self, key: Key) -> int:
        """The key's version; 0 when absent."""
        found = await self.get_versioned(key)
        return 0 if found is None else found.version

    @refuses(StoreInputError)
    async def has(self, key: Key) -> bool:
        return await self.get_versioned(key) is not None

    @refuses(StoreInputError)
    async def keys(self, prefix: str = "", *, limit: int | None = None) -> list[str]:
        """Keys in the order they were first set (like a JS Map); the first `limit` only if given."""
        return (await self._query(StoreWorkflow.keys, KeysRequest(prefix=prefix, limit=limit))).keys

    @refuses(StoreInputError)
    async def snapshot(self, prefix: str = "") -> Snapshot:
        """Every entry with its version, and the store's revision, from one query."""
        return await self._query(StoreWorkflow.entries, EntriesRequest(prefix=prefix))

    @refuses(StoreInputError)
    async def entries(self, prefix: str = "") -> list[tuple[str, JsonValue]]:
        return [(key, e.value) for key, e in (await self.snapshot(prefix)).entries.items()]

    @refuses(StoreInputError)
    async def values(self, prefix: str = "") -> list[JsonValue]:
        return [e.value for e in (await self.snapshot(prefix)).entries.values()]

    async def size(self) -> int:
        """How many keys the store holds (CastBot's `store.size`)."""
        return (await self.usage()).keys

    async def usage(self) -> SizeResult:
        """Key count, bytes held, revision and limits."""
        return await self._query(StoreWorkflow.size, SizeRequest())

    # --- writes (updates) -----------------------------------------------------------------------

    @refuses(StoreInputError)
    async def set(self, key: Key, value: JsonData) -> int:
        """Write the value; returns its new version once the write is recorded."""
        self._precheck(key, value)
        result = await self._update(StoreWorkflow.set, SetRequest(key=key, value=value))
        return result.version

    @refuses(StoreInputError)
    async def compare_and_set(self, key: Key, expected_version: int, value: JsonData) -> int:
        """Write only if the key is at `expected_version` (0: only if absent); returns the new
        version, or raises VersionConflict and writes nothing."""
        self._precheck(key, value)
        request = CompareAndSetRequest(key=key, expected_version=expected_version, value=value)
        result = await self._update(StoreWorkflow.compare_and_set, request)
        return result.version

    @refuses(StoreInputError)
    async def delete(self, key: Key, *, expected_version: int | None = None) -> bool:
        """Remove the key; True if it was there. With `expected_version`, only that version."""
        request = DeleteRequest(key=key, expected_version=expected_version)
        result = await self._update(StoreWorkflow.delete, request)
        return result.deleted

    @refuses(StoreInputError)
    async def transact(self, ops: Sequence[TransactOp]) -> TransactResult:
        """Apply every write or none: each version check passes and every limit holds for the map
        as it would be afterwards, or VersionConflict / StoreLimitError and nothing is written."""
        for op in ops:
            if not op.delete:
                self._precheck(op.key, op.value)
        return await self._update(StoreWorkflow.transact, TransactRequest(ops=list(ops)))

    @refuses(StoreInputError)
    async def modify(
        self, key: Key, change: Callable[[JsonValue | None], JsonValue], *, attempts: int = 100
    ) -> Versioned:
        """Read, change, compare_and_set, again on conflict: a safe read-modify-write.

        `change` gets the current value (None when absent) and returns the new one; it may be
        called several times, so it must not have side effects.
        """
        for _ in range(attempts):
            current = await self.get_versioned(key)
            value = change(None if current is None else current.value)
            try:
                version = await self.compare_and_set(key, 0 if current is None else current.version, value)
            except VersionConflict:
                continue
            return Versioned(value, version)
        raise StoreError(f"store {self.name!r}: key {key!r} kept changing; gave up after {attempts} tries")

    # --- plumbing -------------------------------------------------------------------------------

    def _precheck(self, key: str, value: JsonValue) -> None:
        # Refuse an oversized value here rather than ship it to the server (which refuses
        # payloads past 2 MiB with a less helpful error). The workflow checks again, with
        # its own (possibly lower) limits and the total.
        try:
            size = json_size(value)
        except (TypeError, ValueError) as err:
            raise StoreError(f"store {self.name!r}: the value for {key!r} is not JSON: {err}") from None
        if size > MAX_VALUE_BYTES:
            raise StoreLimitError(
                f"store {self.name!r}: the value for {key!r} is {size:,} bytes of JSON; "
                f"a value may be at most {MAX_VALUE_BYTES:,} bytes"
            )

    async def _query(self, query: Callable[[StoreWorkflow, Any], R], request: Any) -> R:
        return await self._calls.query(
            self._handle, query, request, over=self._missing("does not exist (workflow {id})")
        )

    def _missing(self, what: str) -> Callable[[], StoreError]:
        """`store <name> <what>` ({id}: the workflow's id), for a store whose workflow is gone."""
        return lambda: StoreError(f"store {self.name!r} " + what.format(id=self.workflow_id))

    async def _update(self, update: UpdateMethodMultiParam[[StoreWorkflow, Any], R], request: Any) -> R:
        return await self._calls.update(self._handle, update, request)


def _conflict(cause: ApplicationError) -> VersionConflict:
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    return VersionConflict(
        cause.message,
        key=str(details.get("key", "")),
        expected_version=int(details.get("expected_version", -1)),
        current_version=int(details.get("current_version", -1)),
    )
