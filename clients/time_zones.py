"""The server's time zone and each member's own: what a typed time like `Friday 20:00` means.

The server's zone is a per-guild setting (read through describe, so with no worker); a member's
own zone lives in one store per guild keyed by user id, read when a typed time is submitted.
A member's zone wins over the server's; with neither, UTC.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from temporalio.client import Client

from clients.arguments import DiscordId, refuses
from clients.guild_settings import GuildSetting, SettingsBackend
from clients.store import PersistentStore
from workflows import times
from workflows.jobs_models import DEFAULT_TIME_ZONE, TIME_ZONE, member_zones_store_name
from workflows.store_models import StoreLimits

# One short name per member: 10,000 members at 40 bytes each.
MEMBER_ZONE_LIMITS = StoreLimits(max_value_bytes=64, max_keys=10_000, max_total_bytes=1024 * 1024)


@cache
def known_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@refuses(times.TimeError)
def check_zone(name: str) -> str:
    """The IANA name meant (`europe/paris` -> Europe/Paris), or a TimeError naming the closest."""
    return times.check_zone(name, known_zones())


class MemberZones(Protocol):
    async def get(self, guild_id: int, user_id: int) -> str | None: ...

    async def set(self, guild_id: int, user_id: int, zone: str | None) -> None: ...


class StoreMemberZones:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def _store(self, guild_id: int) -> PersistentStore:
        return await PersistentStore.create(
            self._client, member_zones_store_name(guild_id), self._task_queue, limits=MEMBER_ZONE_LIMITS
        )

    @refuses(times.TimeError)
    async def get(self, guild_id: DiscordId, user_id: DiscordId) -> str | None:
        value = await (await self._store(guild_id)).get(str(user_id))
        return value if isinstance(value, str) else None

    @refuses(times.TimeError)
    async def set(self, guild_id: DiscordId, user_id: DiscordId, zone: str | None) -> None:
        store = await self._store(guild_id)
        if zone is None:
            await store.delete(str(user_id))
        else:
            await store.set(str(user_id), zone)


class MemoryMemberZones:
    """Members' zones in a dict: for tests of the bot's handlers."""

    def __init__(self) -> None:
        self._zones: dict[tuple[int, int], str] = {}

    async def get(self, guild_id: int, user_id: int) -> str | None:
        return self._zones.get((guild_id, user_id))

    async def set(self, guild_id: int, user_id: int, zone: str | None) -> None:
        if zone is None:
            self._zones.pop((guild_id, user_id), None)
        else:
            self._zones[(guild_id, user_id)] = zone


class TimeZones:
    def __init__(self, settings: SettingsBackend, members: MemberZones) -> None:
        self._server = GuildSetting(settings, TIME_ZONE)
        self._members = members

    @refuses(times.TimeError)
    async def server(self, guild_id: DiscordId) -> str:
        value = await self._server.get(guild_id)
        return value if isinstance(value, str) and value in known_zones() else DEFAULT_TIME_ZONE

    @refuses(times.TimeError)
    async def set_server(self, guild_id: DiscordId, name: str | None) -> str | None:
        zone = None if name is None else check_zone(name)
        await self._server.set(guild_id, zone)
        return zone

    @refuses(times.TimeError)
    async def member(self, guild_id: DiscordId, user_id: DiscordId) -> str | None:
        value = await self._members.get(guild_id, user_id)
        return value if value in known_zones() else None

    @refuses(times.TimeError)
    async def set_member(self, guild_id: DiscordId, user_id: DiscordId, name: str | None) -> str | None:
        zone = None if name is None else check_zone(name)
        await self._members.set(guild_id, user_id, zone)
        return zone

    @refuses(times.TimeError)
    async def for_user(self, guild_id: DiscordId, user_id: DiscordId) -> str:
        """The zone a member's typed times are read in: their own, else the server's."""
        return await self.member(guild_id, user_id) or await self.server(guild_id)

    @refuses(times.TimeError)
    async def parse(
        self,
        text: str,
        *,
        guild_id: DiscordId,
        user_id: DiscordId,
        now: datetime,
        maximum: timedelta = times.LONGEST,
    ) -> datetime:
        """What the member typed, read in their zone (times.parse_when)."""
        zone = await self.for_user(guild_id, user_id)
        return times.parse_when(text, zone, now, maximum=maximum)
