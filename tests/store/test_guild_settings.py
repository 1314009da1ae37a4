"""Per-guild settings: kept in the guild's store, read through describe, so a bot handler reads
them before it answers even while no worker runs."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.testing import WorkflowEnvironment

from clients.guild_settings import GuildSetting, StoreSettings, migrate_legacy_settings
from clients.store import PersistentStore
from worker import build_worker
from workflows.store import StoreWorkflow
from workflows.store_models import HOST_ROLE
from workflows.whispers_models import WHISPERS_ENABLED

QUEUE = "guild-settings"


def guild() -> int:
    return uuid.uuid4().int % 10**17 + 10**17


async def test_settings_survive_a_bot_restart_and_are_read_with_no_worker(
    time_env: WorkflowEnvironment,
) -> None:
    gid = guild()
    async with build_worker(time_env.client, QUEUE, [], workflows=[StoreWorkflow]):
        backend = StoreSettings(time_env.client, QUEUE)
        await GuildSetting(backend, HOST_ROLE).set(gid, "880000000000000001")
        await GuildSetting(backend, WHISPERS_ENABLED, True).set(gid, False)
    # The worker is gone. A new bot process (a fresh registry) still reads both settings,
    # within a deadline far below Discord's 3 s: describe is answered by the server alone.
    PersistentStore._registry.clear()
    again = StoreSettings(time_env.client, QUEUE)
    role = await asyncio.wait_for(GuildSetting(again, HOST_ROLE).get(gid), timeout=2)
    switch = await asyncio.wait_for(GuildSetting(again, WHISPERS_ENABLED, True).get(gid), timeout=2)
    assert (role, switch) == ("880000000000000001", False)


async def test_an_untouched_guild_reads_the_defaults_and_a_cleared_setting_returns_to_it(
    time_env: WorkflowEnvironment,
) -> None:
    gid = guild()
    backend = StoreSettings(time_env.client, QUEUE)
    switch = GuildSetting(backend, WHISPERS_ENABLED, True)
    assert await switch.get(gid) is True  # nothing started for this guild, no worker needed
    async with build_worker(time_env.client, QUEUE, [], workflows=[StoreWorkflow]):
        await switch.set(gid, False)
        assert await switch.get(gid) is False
        await switch.set(gid, None)
        assert await switch.get(gid) is True


async def test_each_guild_has_its_own_settings(time_env: WorkflowEnvironment) -> None:
    first, second = guild(), guild()
    role = GuildSetting(StoreSettings(time_env.client, QUEUE), HOST_ROLE)
    async with build_worker(time_env.client, QUEUE, [], workflows=[StoreWorkflow]):
        await role.set(first, "1")
        await role.set(second, "2")
    assert (await role.get(first), await role.get(second)) == ("1", "2")


async def test_wave_one_settings_are_copied_into_each_guilds_store_once(
    time_env: WorkflowEnvironment,
) -> None:
    gid, kept = guild(), guild()
    async with build_worker(time_env.client, QUEUE, [], workflows=[StoreWorkflow]):
        roles = await PersistentStore.create(time_env.client, "host-roles", QUEUE)
        await roles.set(f"guild:{gid}", {"role_id": "4242"})
        await roles.set(f"guild:{kept}", {"role_id": "1"})
        switches = await PersistentStore.create(time_env.client, "whisper-settings", QUEUE)
        await switches.set(f"guild:{gid}", {"enabled": False})
        # A guild that already chose a role since keeps its own.
        backend = StoreSettings(time_env.client, QUEUE)
        await GuildSetting(backend, HOST_ROLE).set(kept, "2")

        assert await migrate_legacy_settings(time_env.client, QUEUE) == 2
        assert await migrate_legacy_settings(time_env.client, QUEUE) == 0  # nothing twice

    assert await GuildSetting(backend, HOST_ROLE).get(gid) == "4242"
    assert await GuildSetting(backend, WHISPERS_ENABLED, True).get(gid) is False
    assert await GuildSetting(backend, HOST_ROLE).get(kept) == "2"
