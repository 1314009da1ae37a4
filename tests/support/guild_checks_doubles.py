"""A stand-in for the `check_guild` activity: what Discord would say about hosts and channels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity

from workflows.guild_checks import CHECK_GUILD, GuildFacts, GuildQuery


@dataclass
class GuildDoubles:
    # (guild, user) pairs Discord counts as hosts (owner, Manage Roles, or the host role); None:
    # Discord agrees with whatever the bot claimed.
    hosts: set[tuple[int, int]] | None = None
    # channel -> the guild it is in; a channel not listed is in whichever guild is asked about.
    channels: dict[int, int] = field(default_factory=dict)
    asked: list[GuildQuery] = field(default_factory=list)

    def activity(self) -> Callable[..., Any]:
        @activity.defn(name=CHECK_GUILD)
        async def check_guild(query: GuildQuery) -> GuildFacts:
            self.asked.append(query)
            channel_guild = None
            if query.channel_id is not None:
                channel_guild = self.channels.get(query.channel_id, query.guild_id)
            return GuildFacts(
                channel_guild=channel_guild,
                host=query.user_id is not None
                and (self.hosts is None or (query.guild_id, query.user_id) in self.hosts),
            )

        return check_guild
