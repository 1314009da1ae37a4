"""Per-guild settings (the host role, the whisper switch, ...): one small store per guild.

Each guild's settings live in the PersistentStore `guild-<guild_id>`, started with its entries
mirrored into the workflow's memo; its name and the host role's key are in
workflows.store_models, a feature's own setting in its models module. Reads go through
describe, which the Temporal server answers alone, so a handler can read a setting before it
opens a modal (the first response, due within 3 s) even while no worker runs. Writes are
store updates: they need a worker, and handlers make them after acknowledging the interaction.

One workflow per guild also means no guild count limit (one store holds at most 10,000 keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import JsonValue
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, JsonData, refuses
from clients.store import PersistentStore
from workflows.common import UserError
from workflows.outage_models import LOG_CHANNEL
from workflows.store_models import HOST_ROLE, SETTINGS_LIMITS, settings_store_name, store_workflow_id
from workflows.whispers_models import WHISPERS_ENABLED


class SettingsError(UserError):
    """A setting that cannot be read or written as asked; the message is fit to show the user."""


class SettingsBackend(Protocol):
    async def read(self, guild_id: int) -> Mapping[str, JsonValue]: ...

    async def write(self, guild_id: int, key: str, value: JsonValue | None) -> None: ...


class StoreSettings:
    """Settings in one memo-mirrored store per guild (see the module docstring)."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @refuses(SettingsError)
    async def read(self, guild_id: DiscordId) -> Mapping[str, JsonValue]:
        handle = self._client.get_workflow_handle(store_workflow_id(settings_store_name(guild_id)))
        try:
            description = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return {}  # nobody changed a setting of this guild yet
            raise
        entries = (await description.memo()).get("entries")
        return entries if isinstance(entries, dict) else {}

    @refuses(SettingsError)
    async def write(self, guild_id: DiscordId, key: str, value: JsonData | None) -> None:
        store = await PersistentStore.create(
            self._client,
            settings_store_name(guild_id),
            self._task_queue,
            limits=SETTINGS_LIMITS,
            mirror_to_memo=True,
        )
        if value is None:
            await store.delete(key)
        else:
            await store.set(key, value)


class MemorySettings:
    """Settings in a dict, lost on restart: for tests of the bot's handlers."""

    def __init__(self) -> None:
        self._guilds: dict[int, dict[str, JsonValue]] = {}

    async def read(self, guild_id: int) -> Mapping[str, JsonValue]:
        return dict(self._guilds.get(guild_id, {}))

    async def write(self, guild_id: int, key: str, value: JsonValue | None) -> None:
        guild = self._guilds.setdefault(guild_id, {})
        if value is None:
            guild.pop(key, None)
        else:
            guild[key] = value


class GuildSetting:
    """One named setting of every guild, with its default (what `set(guild, None)` returns to)."""

    def __init__(self, backend: SettingsBackend, key: str, default: JsonValue = None) -> None:
        self.backend = backend
        self.key = key
        self.default = default

    @refuses(SettingsError)
    async def get(self, guild_id: DiscordId) -> JsonValue:
        return (await self.backend.read(guild_id)).get(self.key, self.default)

    @refuses(SettingsError)
    async def set(self, guild_id: DiscordId, value: JsonData | None) -> None:
        await self.backend.write(guild_id, self.key, value)


class HostRole:
    """The guild's host role (`/safari host-role`): a role id, or None when it has none."""

    def __init__(self, backend: SettingsBackend) -> None:
        self._setting = GuildSetting(backend, HOST_ROLE)

    @refuses(SettingsError)
    async def get(self, guild_id: DiscordId) -> int | None:
        value = await self._setting.get(guild_id)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    @refuses(SettingsError)
    async def set(self, guild_id: DiscordId, role_id: DiscordId | None) -> None:
        await self._setting.set(guild_id, None if role_id is None else str(role_id))


class LogChannel:
    """Where the bot tells the server what an outage cost (`/schedule log-channel`): a channel id,
    or None, when outage summaries go to the host's DMs."""

    def __init__(self, backend: SettingsBackend) -> None:
        self._setting = GuildSetting(backend, LOG_CHANNEL)

    @refuses(SettingsError)
    async def get(self, guild_id: DiscordId) -> int | None:
        value = await self._setting.get(guild_id)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    @refuses(SettingsError)
    async def set(self, guild_id: DiscordId, channel_id: DiscordId | None) -> None:
        await self._setting.set(guild_id, None if channel_id is None else str(channel_id))


class WhispersSwitch:
    """Whether the guild's members may whisper: on unless a host switched it off."""

    def __init__(self, backend: SettingsBackend) -> None:
        self._setting = GuildSetting(backend, WHISPERS_ENABLED, True)

    @refuses(SettingsError)
    async def get(self, guild_id: DiscordId) -> bool:
        return await self._setting.get(guild_id) is not False

    @refuses(SettingsError)
    async def set(self, guild_id: DiscordId, enabled: bool) -> None:
        await self._setting.set(guild_id, enabled)


# Wave 1 kept each setting for every guild in one global store; the worker copies them over.
LEGACY_STORES: dict[str, tuple[str, str]] = {
    # legacy store -> (field of its value, setting it becomes)
    "host-roles": ("role_id", HOST_ROLE),
    "whisper-settings": ("enabled", WHISPERS_ENABLED),
}


async def migrate_legacy_settings(client: Client, task_queue: str) -> int:
    """Copy wave-1 settings (`guild:<id>` keys of the legacy stores) into each guild's settings
    store, where the guild has no value of its own yet. Safe to run on every start; returns how
    many values were copied. The legacy stores are left as they are."""
    settings = StoreSettings(client, task_queue)
    copied = 0
    for store_name, (field, setting) in LEGACY_STORES.items():
        handle = client.get_workflow_handle(store_workflow_id(store_name))
        try:
            await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        legacy = await PersistentStore.create(client, store_name, task_queue)
        for key, value in await legacy.entries("guild:"):
            guild = key.removeprefix("guild:")
            if not (guild.isdigit() and isinstance(value, dict) and field in value):
                continue
            if setting in await settings.read(int(guild)):
                continue
            await settings.write(int(guild), setting, value[field])
            copied += 1
    return copied
