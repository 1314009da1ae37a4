"""Who may do what: guild-only and host-only, as exceptions the bot's one error path answers.

A host is a member with Manage Roles (Administrator implies it) or with the role the guild chose
(`/safari host-role`, kept in the guild's settings). The workflows check again what they can
(the guild, the owner); the roles only the bot can see.

`require_guild` and `require_host` raise discord.py's `NoPrivateMessage` and a `CheckFailure`,
which `bot.replies.report_error` turns into a short ephemeral answer, whether raised in an app
command, a DynamicItem callback or a modal handler.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from clients.guild_settings import HostRole, MemorySettings

HOST_RULE = "a host (Manage Roles, or this server's host role)"


class NotHost(app_commands.CheckFailure):
    def __init__(self, what: str) -> None:
        super().__init__(f"Only {HOST_RULE} can {what}.")


class HostPolicy:
    """Decides `is_host`; the host role is a guild setting (the bot gives the store-backed one)."""

    def __init__(self, role: HostRole | None = None) -> None:
        self.role = role or HostRole(MemorySettings())

    async def host_role(self, guild_id: int) -> int | None:
        return await self.role.get(guild_id)

    async def set_host_role(self, guild_id: int, role_id: int | None) -> None:
        await self.role.set(guild_id, role_id)

    async def is_host(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Roles in this channel (Administrator implies it), or the guild's host role."""
        member = interaction.user
        if interaction.guild_id is None or not isinstance(member, discord.Member):
            return False
        if interaction.permissions.manage_roles:
            return True
        role_id = await self.host_role(interaction.guild_id)
        return role_id is not None and any(role.id == role_id for role in member.roles)


def require_guild(interaction: discord.Interaction[Any]) -> int:
    """The interaction's guild id; NoPrivateMessage in a DM."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


async def require_host(interaction: discord.Interaction[Any], what: str) -> int:
    """The guild id, if the user is a host there; NotHost ("Only a host ... can <what>.") if not."""
    guild_id = require_guild(interaction)
    if not await interaction.client.hosts.is_host(interaction):
        raise NotHost(what)
    return guild_id
