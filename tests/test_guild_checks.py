"""The `check_guild` activity decides from Discord's data, not the caller's word: which server a
channel is in, and who is a host (the owner, Administrator or Manage Roles, the host role)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import discord
from aiohttp import ClientResponse
from temporalio.testing import ActivityEnvironment

from activities.discord_rest import rest_client
from activities.guild_checks import ADMINISTRATOR, MANAGE_ROLES, GuildChecks
from local_discord import FakeDiscord
from workflows.guild_checks import GuildFacts, GuildQuery

GUILD, OTHER, OWNER, ADMIN, MOD, HOST, PLAYER, STRANGER = 10, 20, 31, 32, 33, 34, 35, 36
HOST_ROLE, ADMIN_ROLE, MOD_ROLE = 41, 42, 43
CHANNEL, OTHER_CHANNEL, GONE_CHANNEL = 51, 52, 53


def not_found() -> discord.NotFound:
    response = SimpleNamespace(status=404, reason="Not Found")
    return discord.NotFound(cast(ClientResponse, response), {"code": 10013, "message": "Unknown"})


class Http:
    token = "token"

    async def get_channel(self, channel_id: int) -> dict[str, Any]:
        guilds = {CHANNEL: GUILD, OTHER_CHANNEL: OTHER}
        if channel_id not in guilds:
            raise not_found()
        return {"id": str(channel_id), "guild_id": str(guilds[channel_id])}

    async def get_guild(self, guild_id: int) -> dict[str, Any]:
        return {
            "id": str(guild_id),
            "owner_id": str(OWNER),
            "roles": [
                {"id": str(GUILD), "permissions": "1024"},  # @everyone: View Channel
                {"id": str(ADMIN_ROLE), "permissions": str(ADMINISTRATOR)},
                {"id": str(MOD_ROLE), "permissions": str(MANAGE_ROLES)},
                {"id": str(HOST_ROLE), "permissions": "0"},
            ],
        }

    async def get_member(self, guild_id: int, user_id: int) -> dict[str, Any]:
        roles = {OWNER: [], ADMIN: [ADMIN_ROLE], MOD: [MOD_ROLE], HOST: [HOST_ROLE], PLAYER: []}
        if user_id not in roles:
            raise not_found()
        return {"user": {"id": str(user_id)}, "roles": [str(r) for r in roles[user_id]]}


class Setting:
    async def get(self, guild_id: int) -> int | None:
        return HOST_ROLE if guild_id == GUILD else None


async def ask(query: GuildQuery) -> GuildFacts:
    checks = GuildChecks(cast(discord.Client, SimpleNamespace(http=Http())), Setting())
    facts: GuildFacts = await ActivityEnvironment().run(checks.check_guild, query)
    return facts


async def test_a_channel_is_placed_in_the_server_discord_says() -> None:
    assert (await ask(GuildQuery(guild_id=GUILD, channel_id=CHANNEL))).channel_guild == GUILD
    assert (await ask(GuildQuery(guild_id=GUILD, channel_id=OTHER_CHANNEL))).channel_guild == OTHER
    assert (await ask(GuildQuery(guild_id=GUILD, channel_id=GONE_CHANNEL))).channel_guild is None


async def test_hosts_are_the_owner_administrators_role_managers_and_the_host_role() -> None:
    for user in (OWNER, ADMIN, MOD, HOST):
        assert (await ask(GuildQuery(guild_id=GUILD, user_id=user))).host, user
    for user in (PLAYER, STRANGER):  # a member without any of these; not a member at all
        assert not (await ask(GuildQuery(guild_id=GUILD, user_id=user))).host, user


async def test_against_the_local_discord() -> None:
    async with FakeDiscord() as fake, rest_client("fake-bot-token", fake.base_url) as client:
        fake.add_guild(GUILD, "Ours", owner_id=OWNER)
        fake.add_guild(OTHER, "Theirs", owner_id=OWNER)
        fake.add_role(GUILD, MOD_ROLE, "Mods", MANAGE_ROLES)
        fake.add_role(GUILD, HOST_ROLE, "Hosts", 0)
        fake.add_member(GUILD, OWNER, "owner")
        fake.add_member(GUILD, MOD, "mod", [MOD_ROLE])
        fake.add_member(GUILD, HOST, "host", [HOST_ROLE])
        fake.add_member(GUILD, PLAYER, "player")
        fake.add_channel(CHANNEL, GUILD)
        fake.add_channel(OTHER_CHANNEL, OTHER)
        checks = GuildChecks(client, Setting())

        async def ask_fake(query: GuildQuery) -> GuildFacts:
            facts: GuildFacts = await ActivityEnvironment().run(checks.check_guild, query)
            return facts

        assert (await ask_fake(GuildQuery(guild_id=GUILD, channel_id=OTHER_CHANNEL))).channel_guild == OTHER
        assert (await ask_fake(GuildQuery(guild_id=GUILD, channel_id=GONE_CHANNEL))).channel_guild is None
        hosts = [
            u
            for u in (OWNER, MOD, HOST, PLAYER, STRANGER)
            if (await ask_fake(GuildQuery(guild_id=GUILD, user_id=u))).host
        ]
        assert hosts == [OWNER, MOD, HOST]
        fake.assert_no_violations()
