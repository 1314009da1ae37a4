"""Who counts as a host of a guild: Manage Roles (or Administrator), or the role the guild chose.

The chosen role lives behind `HostRoleStore`, so the PersistentStore (`bot/store.py`) can take
over from the in-memory default without touching the cogs.
"""

from __future__ import annotations

from typing import Any, Protocol

import discord


class HostRoleStore(Protocol):
    async def get(self, guild_id: int) -> int | None: ...

    async def set(self, guild_id: int, role_id: int | None) -> None: ...


class MemoryHostRoles:
    """Host roles in a dict: lost on restart. Only until the PersistentStore is wired in."""

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
        self.store: HostRoleStore = store or MemoryHostRoles()

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
