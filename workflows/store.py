"""The store workflow: one named map of JSON values, the durable half of PersistentStore.

Replaces CastBot's `data_<name>.json` file and its debounced save: a write is an update,
acknowledged only once it is in the workflow's history, so a crash can neither lose an
acknowledged write nor apply it twice. Reads are queries, answered from the worker's copy.

Every write is checked in the update's validator first, so a refused write (over a limit, a
stale compare_and_set) leaves no trace in history. The handlers are synchronous and run right
after their validator in the same task, so the check cannot go stale in between; they check
again anyway, cheaply, should that ever change.

The run continues as new after `continue_after_updates` accepted writes, or sooner when the
server suggests it, carrying the whole map, its versions and the revision counter over.

A write that takes the store past NEAR_LIMIT of its keys or bytes is reported before anything is
refused: the counter `store_near_limit{store=<name>}` and a warning in the worker's log.
"""

from __future__ import annotations

import itertools

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import JsonValue

    from workflows.store_models import (
        CONFLICT_ERROR,
        KEY_ERROR,
        LIMIT_ERROR,
        MAX_KEY_BYTES,
        STORE_WORKFLOW,
        CompareAndSetRequest,
        DeleteRequest,
        DeleteResult,
        EntriesRequest,
        Entry,
        GetRequest,
        GetResult,
        KeysRequest,
        KeysResult,
        SetRequest,
        SizeRequest,
        SizeResult,
        Snapshot,
        StoreInput,
        TransactRequest,
        TransactResult,
        WriteResult,
        entry_size,
        json_size,
        key_size,
    )


# A store holding this share of its keys or bytes is reported as near its limit.
NEAR_LIMIT = 0.8
STORE_NEAR_LIMIT = "store_near_limit"


@workflow.defn(name=STORE_WORKFLOW)
class StoreWorkflow:
    @workflow.init
    def __init__(self, inp: StoreInput) -> None:
        self._input = inp
        self._entries: dict[str, Entry] = dict(inp.entries)
        self._sizes: dict[str, int] = {key: entry_size(key, e.value) for key, e in self._entries.items()}
        self._bytes = sum(self._sizes.values())
        self._revision = inp.revision
        self._accepted = 0
        self._near = self._near_limit()  # carried over near the limit: reported by the run before

    @workflow.run
    async def run(self, inp: StoreInput) -> None:
        self._show()
        if inp.mirror_to_memo and self._entries:
            self._mirror()  # a new run starts with the memo its predecessor had; keep it exact
        await workflow.wait_condition(self._should_continue)
        # Let every write of this run answer before the map moves to the next run.
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            StoreInput(
                name=inp.name,
                entries=self._entries,
                revision=self._revision,
                limits=inp.limits,
                continue_after_updates=inp.continue_after_updates,
                generation=inp.generation + 1,
                mirror_to_memo=inp.mirror_to_memo,
            )
        )

    def _should_continue(self) -> bool:
        return (
            self._accepted >= self._input.continue_after_updates
            or workflow.info().is_continue_as_new_suggested()
        )

    # --- writes -----------------------------------------------------------------------------

    @workflow.update
    def set(self, request: SetRequest) -> WriteResult:
        self._check_write(request.key, request.value)
        return self._write(request.key, request.value)

    @set.validator
    def _validate_set(self, request: SetRequest) -> None:
        self._check_write(request.key, request.value)

    @workflow.update
    def compare_and_set(self, request: CompareAndSetRequest) -> WriteResult:
        self._check_version(request.key, request.expected_version)
        self._check_write(request.key, request.value)
        return self._write(request.key, request.value)

    @compare_and_set.validator
    def _validate_compare_and_set(self, request: CompareAndSetRequest) -> None:
        self._check_version(request.key, request.expected_version)
        self._check_write(request.key, request.value)

    @workflow.update
    def delete(self, request: DeleteRequest) -> DeleteResult:
        if request.expected_version is not None:
            self._check_version(request.key, request.expected_version)
        self._accepted += 1
        old = self._remove(request.key)
        if old is not None:
            self._changed()
        return DeleteResult(
            key=request.key,
            deleted=old is not None,
            previous_version=old.version if old else 0,
            revision=self._revision,
        )

    @delete.validator
    def _validate_delete(self, request: DeleteRequest) -> None:
        if request.expected_version is not None:
            self._check_version(request.key, request.expected_version)

    @workflow.update
    def transact(self, request: TransactRequest) -> TransactResult:
        self._check_transaction(request)
        self._accepted += 1
        versions = []
        for op in request.ops:
            if op.delete:
                self._remove(op.key)
                versions.append(0)
            else:
                versions.append(self._put(op.key, op.value))
        self._changed()
        return TransactResult(versions=versions, revision=self._revision)

    @transact.validator
    def _validate_transact(self, request: TransactRequest) -> None:
        self._check_transaction(request)

    def _check_transaction(self, request: TransactRequest) -> None:
        keys = [op.key for op in request.ops]
        if len(set(keys)) != len(keys):
            raise ApplicationError(
                f"store {self._input.name!r}: a transaction writes each key at most once",
                type=KEY_ERROR,
                non_retryable=True,
            )
        for op in request.ops:
            if op.expected_version is not None:
                self._check_version(op.key, op.expected_version)
            if not op.delete:
                self._check_write(op.key, op.value)
        # The limits hold for the map as it would be after every op, not only op by op.
        after_keys = len(self._entries)
        after_bytes = self._bytes
        for op in request.ops:
            present = op.key in self._entries
            after_bytes -= self._sizes.get(op.key, 0)
            if op.delete:
                after_keys -= present
            else:
                after_keys += not present
                after_bytes += entry_size(op.key, op.value)
        limits = self._input.limits
        if after_keys > limits.max_keys:
            raise _limit(
                f"store {self._input.name!r} would hold {after_keys:,} keys after this transaction; "
                f"it may hold at most {limits.max_keys:,}",
                "keys",
                after_keys,
                limits.max_keys,
            )
        if after_bytes > limits.max_total_bytes:
            raise _limit(
                f"store {self._input.name!r} would hold {after_bytes:,} bytes after this transaction; "
                f"it may hold at most {limits.max_total_bytes:,} bytes in all",
                "total_bytes",
                after_bytes,
                limits.max_total_bytes,
            )

    def _write(self, key: str, value: JsonValue) -> WriteResult:
        self._accepted += 1
        old = self._entries.get(key)
        version = self._put(key, value)
        self._changed()
        return WriteResult(
            key=key,
            version=version,
            previous_version=old.version if old else 0,
            revision=self._revision,
        )

    def _put(self, key: str, value: JsonValue) -> int:
        self._revision += 1
        size = entry_size(key, value)
        self._bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        self._entries[key] = Entry(value=value, version=self._revision)
        return self._revision

    def _remove(self, key: str) -> Entry | None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= self._sizes.pop(key)
            self._revision += 1
        return old

    def _changed(self) -> None:
        self._show()
        if self._input.mirror_to_memo:
            self._mirror()
        near = self._near_limit()
        if near and not self._near:
            limits, name = self._input.limits, self._input.name
            workflow.logger.warning(
                "store %r is near its limit: %d of %d keys, %d of %d bytes",
                name,
                len(self._entries),
                limits.max_keys,
                self._bytes,
                limits.max_total_bytes,
            )
            meter = workflow.metric_meter()
            meter.create_counter(STORE_NEAR_LIMIT, "stores that went past 80% of a limit").add(
                1, {"store": name}
            )
        self._near = near

    def _near_limit(self) -> bool:
        limits = self._input.limits
        return (
            self._bytes >= NEAR_LIMIT * limits.max_total_bytes
            or len(self._entries) >= NEAR_LIMIT * limits.max_keys
        )

    def _mirror(self) -> None:
        workflow.upsert_memo({"entries": {key: e.value for key, e in self._entries.items()}})

    def _check_version(self, key: str, expected: int) -> None:
        current = self._entries[key].version if key in self._entries else 0
        if current != expected:
            found = f"at version {current}" if current else "absent"
            wanted = f"version {expected}" if expected else "absent"
            raise ApplicationError(
                f"store {self._input.name!r}: key {key!r} is {found}, not {wanted}",
                {"key": key, "expected_version": expected, "current_version": current},
                type=CONFLICT_ERROR,
                non_retryable=True,
            )

    def _check_write(self, key: str, value: JsonValue) -> None:
        name, limits = self._input.name, self._input.limits
        if not key:
            raise ApplicationError(
                f"store {name!r}: a key must not be empty", type=KEY_ERROR, non_retryable=True
            )
        if key_size(key) > MAX_KEY_BYTES:
            raise ApplicationError(
                f"store {name!r}: a key may be at most {MAX_KEY_BYTES} bytes, this one is {key_size(key)}",
                type=KEY_ERROR,
                non_retryable=True,
            )
        try:
            size = json_size(value)
        except ValueError as err:
            raise ApplicationError(
                f"store {name!r}: the value for {key!r} is not JSON: {err}",
                type=KEY_ERROR,
                non_retryable=True,
            ) from None
        if size > limits.max_value_bytes:
            raise _limit(
                f"store {name!r}: the value for {key!r} is {size:,} bytes of JSON; "
                f"a value may be at most {limits.max_value_bytes:,} bytes",
                "value_bytes",
                size,
                limits.max_value_bytes,
            )
        is_new = key not in self._entries
        if is_new and len(self._entries) >= limits.max_keys:
            raise _limit(
                f"store {name!r} already holds {len(self._entries):,} keys, the most it may; "
                f"delete some before adding {key!r}",
                "keys",
                len(self._entries) + 1,
                limits.max_keys,
            )
        total = self._bytes - self._sizes.get(key, 0) + key_size(key) + size
        if total > limits.max_total_bytes:
            raise _limit(
                f"store {name!r} would hold {total:,} bytes with this value for {key!r}; "
                f"it may hold at most {limits.max_total_bytes:,} bytes in all",
                "total_bytes",
                total,
                limits.max_total_bytes,
            )

    # --- reads ------------------------------------------------------------------------------

    @workflow.query
    def get(self, request: GetRequest) -> GetResult:
        entry = self._entries.get(request.key)
        if entry is None:
            return GetResult(key=request.key, found=False)
        return GetResult(key=request.key, found=True, value=entry.value, version=entry.version)

    @workflow.query
    def keys(self, request: KeysRequest) -> KeysResult:
        found = (key for key in self._entries if key.startswith(request.prefix))
        keys = list(itertools.islice(found, request.limit))
        return KeysResult(keys=keys, revision=self._revision)

    @workflow.query
    def entries(self, request: EntriesRequest) -> Snapshot:
        entries = {key: e for key, e in self._entries.items() if key.startswith(request.prefix)}
        return Snapshot(name=self._input.name, revision=self._revision, entries=entries)

    @workflow.query
    def size(self, request: SizeRequest) -> SizeResult:
        return SizeResult(
            keys=len(self._entries), bytes=self._bytes, revision=self._revision, limits=self._input.limits
        )

    def _show(self) -> None:
        limits = self._input.limits
        workflow.set_current_details(
            f"**{len(self._entries):,}** keys of {limits.max_keys:,}, "
            f"**{self._bytes:,}** bytes of {limits.max_total_bytes:,}\n"
            f"revision {self._revision}, run {self._input.generation + 1} "
            f"(continues as new after {self._input.continue_after_updates} writes)"
        )


def _limit(message: str, limit: str, wanted: int, allowed: int) -> ApplicationError:
    return ApplicationError(
        message, {"limit": limit, "wanted": wanted, "allowed": allowed}, type=LIMIT_ERROR, non_retryable=True
    )
