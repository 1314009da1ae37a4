"""Inputs, messages and results of the store workflow (one per PersistentStore name).

One pydantic model per workflow argument, update and query, so fields can be added with
defaults without breaking executions already running.

Versions: the store keeps one revision counter that every write (set, compare_and_set,
delete) advances by one; a key's version is the revision of its last write. So a key's
version only ever grows, and a delete followed by a set *continues* above every version the
key had before (no tombstones are kept, and an old expected_version can never match again).
Version 0 means "absent": compare_and_set with expected_version 0 writes only a new key.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, JsonValue

STORE_WORKFLOW = "PersistentStore"


def store_workflow_id(name: str) -> str:
    """The workflow of the store named `name`: a business key any process computes again."""
    return f"store-{name}"


# Hard limits. The whole map travels in the continue-as-new input, and the server refuses a
# payload past 2 MiB: 1 MiB of keys and values plus per-entry overhead stays well under.
MAX_VALUE_BYTES = 64 * 1024
MAX_KEYS = 10_000
MAX_TOTAL_BYTES = 1024 * 1024
MAX_KEY_BYTES = 512
# Continue as new after this many accepted updates (or sooner, when the server suggests it).
CONTINUE_AFTER_UPDATES = 500

NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"

LIMIT_ERROR = "StoreLimitError"
CONFLICT_ERROR = "VersionConflict"
KEY_ERROR = "StoreKeyError"


def json_size(value: JsonValue) -> int:
    """Bytes of the value as compact UTF-8 JSON: what the value limits count."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8"))


def key_size(key: str) -> int:
    return len(key.encode("utf-8"))


def entry_size(key: str, value: JsonValue) -> int:
    """What one entry counts towards the store's total: its key plus its value's JSON."""
    return key_size(key) + json_size(value)


class Entry(BaseModel):
    value: JsonValue
    version: int = Field(ge=1)


class StoreLimits(BaseModel):
    """Limits a store enforces; a store may be given lower ones (tests do), never higher."""

    max_value_bytes: int = Field(default=MAX_VALUE_BYTES, ge=1, le=MAX_VALUE_BYTES)
    max_keys: int = Field(default=MAX_KEYS, ge=1, le=MAX_KEYS)
    max_total_bytes: int = Field(default=MAX_TOTAL_BYTES, ge=1, le=MAX_TOTAL_BYTES)


class StoreInput(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    # Carried over on continue-as-new; empty for a new store.
    entries: dict[str, Entry] = Field(default_factory=dict)
    revision: int = Field(default=0, ge=0)
    limits: StoreLimits = Field(default_factory=StoreLimits)
    continue_after_updates: int = Field(default=CONTINUE_AFTER_UPDATES, ge=1, le=10_000)
    # How many runs came before this one (for the Web UI's details).
    generation: int = Field(default=0, ge=0)
    # Mirror every entry into the workflow's memo, so a client reads them with describe, which
    # the server answers alone: no worker needed (per-guild settings read before a modal opens).
    mirror_to_memo: bool = False


# --- updates ------------------------------------------------------------------------------


class SetRequest(BaseModel):
    key: str
    value: JsonValue


class CompareAndSetRequest(BaseModel):
    key: str
    # The version the caller read; 0 means "only if the key is absent".
    expected_version: int = Field(ge=0)
    value: JsonValue


class DeleteRequest(BaseModel):
    key: str
    # None deletes whatever is there; a number deletes only that version (0: only if absent,
    # which deletes nothing).
    expected_version: int | None = Field(default=None, ge=0)


class TransactOp(BaseModel):
    """One write of a transaction: a set (value given) or a delete (value omitted), each only at
    `expected_version` when that is given (0: only if absent)."""

    key: str
    value: JsonValue = None
    delete: bool = False
    expected_version: int | None = Field(default=None, ge=0)


class TransactRequest(BaseModel):
    """Writes applied together or not at all: every version check passes and every limit holds
    for the map as it would be afterwards, or nothing is written."""

    ops: list[TransactOp] = Field(min_length=1, max_length=MAX_KEYS)


class TransactResult(BaseModel):
    # The new version of every key written (0 for a deleted key), in the order of the ops.
    versions: list[int]
    revision: int


class WriteResult(BaseModel):
    key: str
    version: int
    previous_version: int
    revision: int


class DeleteResult(BaseModel):
    key: str
    deleted: bool
    previous_version: int
    revision: int


# --- queries ------------------------------------------------------------------------------


class GetRequest(BaseModel):
    key: str


class GetResult(BaseModel):
    key: str
    found: bool
    value: JsonValue = None
    version: int = 0


class KeysRequest(BaseModel):
    prefix: str = ""
    # The first `limit` matching keys only (all when None).
    limit: int | None = Field(default=None, ge=1)


class KeysResult(BaseModel):
    keys: list[str]
    revision: int


class EntriesRequest(BaseModel):
    prefix: str = ""


class Snapshot(BaseModel):
    name: str
    revision: int
    entries: dict[str, Entry]


class SizeRequest(BaseModel):
    pass


class SizeResult(BaseModel):
    keys: int
    bytes: int
    revision: int
    limits: StoreLimits


# --- each guild's settings (clients/guild_settings.py) -------------------------------------
# One small store per guild, mirrored into its memo, one key per setting. A feature's own
# setting is named in its models module (whispers_models.WHISPERS_ENABLED,
# seasons_models.SEASON_RULES); the host role, which every feature's checks share, is here.


def settings_store_name(guild_id: int) -> str:
    return f"guild-{guild_id}"


# Settings are ids and switches: a few hundred bytes. A small cap keeps the memo small.
SETTINGS_LIMITS = StoreLimits(max_value_bytes=1024, max_keys=64, max_total_bytes=16 * 1024)
HOST_ROLE = "host_role"  # a role id as a string, or absent
