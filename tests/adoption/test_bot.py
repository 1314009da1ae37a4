"""`/admin export` in process (simcord) on the real dev server: an admin (Manage Server) gets the
server's document attached to an ephemeral reply; everyone else is refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import discord
import pytest
import pytest_asyncio
import simcord
from simcord import assert_responded
from temporalio.client import Client

from adoption.server import ServerExport
from adoption.target import Target
from tests.support.adoption import import_worker
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.temporal import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def world(client: Client) -> AsyncIterator[tuple[World, simcord.MemberActor]]:
    queue = f"admin-{uuid.uuid4().hex[:8]}"
    async with import_worker(client, queue, None), bot_env(client, queue) as w:
        admins = w.guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
        admin = w.guild.add_member(w.env.create_user("admin"), roles=[admins])
        yield w, admin


async def test_an_admin_gets_the_servers_export_as_a_file(world: tuple[World, simcord.MemberActor]) -> None:
    w, admin = world
    target = Target(w.client, w.task_queue)
    await target.custom_actions.create(w.guild.id, "Treasure Hunt", by=w.host.id)
    await target.jobs.schedule(
        "post_message",
        {"content": "Hello"},
        guild_id=w.guild.id,
        channel_id=w.channel.id,
        scheduled_by=w.host.id,
        delay=timedelta(hours=1),
    )

    async def listed() -> bool:
        return len(await target.jobs.get_jobs(w.guild.id)) == 1

    await eventually(listed)
    done = answered(await admin.slash(w.channel, "admin export"))
    shown = last_reply(done)
    assert shown.ephemeral and "1 custom actions, 0 chains, 1 waiting jobs" in shown.content
    assert "python -m adoption import server-" in shown.content
    [file] = shown.attachments
    assert file.filename.startswith(f"server-{w.guild.id}-") and file.filename.endswith(".json")
    document = ServerExport.model_validate_json(await file.read())
    assert document.guild_id == w.guild.id
    assert [a.name for a in document.custom_actions] == ["Treasure Hunt"]
    assert [j.payload for j in document.jobs] == [{"content": "Hello"}]


async def test_everyone_else_is_refused(world: tuple[World, simcord.MemberActor]) -> None:
    w, _ = world
    # Discord hides /admin from non-admins; a server owner may show it anyway: the bot refuses.
    command = w.env.backend.find_command("admin", None)
    assert command is not None
    w.guild.set_command_permissions(int(command["id"]), {w.player: True, w.host: True})
    for actor in (w.player, w.host):
        refused = answered(await actor.slash(w.channel, "admin export"))
        assert_responded(refused, contains="Only a server admin (Manage Server) can export", ephemeral=True)
        assert not last_reply(refused).attachments
