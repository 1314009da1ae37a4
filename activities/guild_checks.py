"""The `check_guild` activity: Discord's own answer to "is this channel in that guild" and "is
this member a host there", for workflows that must not take a caller's word for either."""

from __future__ import annotations

from typing import Any, Protocol

import discord
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import already_gone, discord_errors, require_login
from workflows.guild_checks import CHECK_GUILD, GuildFacts, GuildQuery

ADMINISTRATOR = 1 << 3
MANAGE_ROLES = 1 << 28


class HostRoleSetting(Protocol):
    async def get(self, guild_id: int) -> int | None: ...


class NoHostRole:
    """For a worker without the settings store: hosts by their Discord permissions only."""

    async def get(self, guild_id: int) -> int | None:
        return None


class GuildChecks:
    def __init__(self, client: discord.Client, host_role: HostRoleSetting | None = None) -> None:
        self._client = client
        self._host_role = host_role or NoHostRole()

    @activity.defn(name=CHECK_GUILD)
    async def check_guild(self, query: GuildQuery) -> GuildFacts:
        require_login(self._client)
        facts = GuildFacts()
        if query.channel_id is not None:
            channel = await self._get(self._client.http.get_channel, query.channel_id)
            guild = channel.get("guild_id") if channel else None
            facts.channel_guild = int(guild) if guild else None
        if query.user_id is not None:
            facts.host = await self._is_host(query.guild_id, query.user_id)
        return facts

    async def _is_host(self, guild_id: int, user_id: int) -> bool:
        """The owner, a member whose roles give Administrator or Manage Roles, or one holding the
        guild's host role (as the bot decides, from Discord's data rather than the caller's)."""
        guild = await self._get(self._client.http.get_guild, guild_id)
        member = await self._get(self._client.http.get_member, guild_id, user_id)
        if not guild or not member:
            return False  # not in the bot's guilds, or not a member
        if str(guild.get("owner_id")) == str(user_id):
            return True
        held = {str(role) for role in member.get("roles", [])} | {str(guild_id)}  # @everyone
        allowed = 0
        for role in guild.get("roles", []):
            if str(role.get("id")) in held:
                allowed |= int(role.get("permissions") or 0)
        if allowed & (ADMINISTRATOR | MANAGE_ROLES):
            return True
        host_role = await self._host_role.get(guild_id)
        return host_role is not None and str(host_role) in held

    @staticmethod
    async def _get(call: Any, *ids: int) -> dict[str, Any] | None:
        """Discord's object, or None when it answers that there is none (404, or 403: not ours)."""
        try:
            with discord_errors():
                found: dict[str, Any] = await call(*ids)
        except ApplicationError as err:
            if already_gone(err) or _forbidden(err):
                return None
            raise
        return found


def _forbidden(err: ApplicationError) -> bool:
    details = err.details[0] if err.details else None
    return isinstance(details, dict) and details.get("status") == 403
