"""Who counts as a host of a guild: Manage Roles (or Administrator), or the role the guild chose.

The chosen role lives behind `HostRoleStore`: the bot keeps it in the PersistentStore
(`StoreHostRoles`); tests may hand in `MemoryHostRoles`.
"""

from __future__ import annotations

from typing import Any, Protocol

import discord
from temporalio.client import Client

from bot.store import PersistentStore


class HostRoleStore(Protocol):
    async def get(self, guild_id: int) -> int | None: ...

    async def set(self, guild_id: int, role_id: int | None) -> None: ...


class StoreHostRoles:
    """Host roles in the PersistentStore `host-roles` (one key per guild), so they survive restarts
    and every bot shard sees the same value."""

    STORE_NAME = "host-roles"

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def _store(self) -> PersistentStore:
        return await PersistentStore.create(self._client, self.STORE_NAME, self._task_queue)

    async def get(self, guild_id: int) -> int | None:
        value = await (await self._store()).get(f"guild:{guild_id}")
        role = value.get("role_id") if isinstance(value, dict) else None
        return int(role) if isinstance(role, str) else None

    async def set(self, guild_id: int, role_id: int | None) -> None:
        store = await self._store()
        if role_id is None:
            await store.delete(f"guild:{guild_id}")
        else:
            await store.set(f"guild:{guild_id}", {"role_id": str(role_id)})


class MemoryHostRoles:
    """Host roles in a dict, for tests: lost on restart."""

    def __init__(self) -> None:
        self._roles: dict[int, int] = {}

    async def get(self, guild_id: int) -> int | None:
        return self._roles.get(guild_id)

    async def set(self, guild_id: int, role_id: int | None) -> None:
        if role_id is None:
            self._roles.pop(guild_id, None)
        else:
            self._roles[guild_id] = role_id


class HostPolicy:
    def __init__(self, store: HostRoleStore | None = None) -> None:
        self.store: HostRoleStore = store or MemoryHostRoles()  # the bot passes StoreHostRoles

    async def host_role(self, guild_id: int) -> int | None:
        return await self.store.get(guild_id)

    async def set_host_role(self, guild_id: int, role_id: int | None) -> None:
        await self.store.set(guild_id, role_id)

    async def is_host(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Roles in this channel (Administrator implies it), or the guild's host role."""
        member = interaction.user
        if interaction.guild_id is None or not isinstance(member, discord.Member):
            return False
        if interaction.permissions.manage_roles:
            return True
        role_id = await self.host_role(interaction.guild_id)
        return role_id is not None and any(role.id == role_id for role in member.roles)
