"""The health check through the bot, in process (simcord), on the time-skipping server: admins
(Manage Server) start, read, pause, resume and run it; everyone else is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import simcord
from simcord import assert_message, assert_responded
from temporalio.testing import WorkflowEnvironment

from clients.health import HealthChecks
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.health_doubles import Probes
from worker import build_worker
from workflows.health import HealthCheckWorkflow

QUEUE = "bot-health"


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[World, simcord.MemberActor, Probes]]:
    probes = Probes(time_env)
    async with (
        build_worker(time_env.client, QUEUE, probes.activities(), workflows=[HealthCheckWorkflow]),
        bot_env(time_env.client, QUEUE) as w,
    ):
        admins = w.guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
        admin = w.guild.add_member(w.env.create_user("admin"), roles=[admins])
        yield w, admin, probes


async def test_an_admin_starts_reads_pauses_and_resumes_the_check(
    world: tuple[World, simcord.MemberActor, Probes],
) -> None:
    w, admin, probes = world
    log = w.guild.create_text_channel("bot-log")
    on_call = w.guild.create_role("On call")
    started = answered(await admin.slash(w.channel, "health start", channel=log, minutes=10, role=on_call))
    assert_responded(started, contains=f"every 10 min, posting to <#{log.id}>", ephemeral=True)
    assert_responded(started, contains=f"mentioning <@&{on_call.id}> when it turns degraded", ephemeral=True)
    again = answered(await admin.slash(w.channel, "health start", channel=w.channel))
    assert_responded(again, contains="already runs in this server", ephemeral=True)
    status = await HealthChecks(w.client, QUEUE).status(w.guild.id)
    assert status.admin_channel_id == log.id and status.alert_role_id == on_call.id

    ran = answered(await admin.slash(w.channel, "health run"))
    body = last_reply(ran).content
    assert "Health: healthy" in body and "🟢 Discord: answered in 80 ms" in body
    assert "health_probe" not in body and "<t:" in body and "Last runs, newest first: 🟢" in body

    paused = answered(await admin.slash(w.channel, "health pause"))
    assert_message(last_reply(paused), contains="Paused", ephemeral=True)
    assert "⏸️ paused" in last_reply(paused).content
    twice = answered(await admin.slash(w.channel, "health pause"))
    assert_message(last_reply(twice), contains="already paused", ephemeral=True)
    resumed = answered(await admin.slash(w.channel, "health resume"))
    assert_message(last_reply(resumed), contains="Resumed", ephemeral=True)
    read = answered(await admin.slash(w.channel, "health status"))
    assert_message(last_reply(read), contains="Every 10 min", ephemeral=True)
    assert "Last runs, newest first: 🟢" in last_reply(read).content  # the status shows the last runs
    # The state never changed: one post, from the first check.
    assert [r.kind for r in probes.reports] == ["change"]

    stopped = answered(await admin.slash(w.channel, "health stop"))
    assert_responded(stopped, contains="Health check stopped", ephemeral=True)
    await w.client.get_workflow_handle(f"health-{w.guild.id}").result()
    gone = answered(await admin.slash(w.channel, "health stop"))
    assert_responded(gone, contains="No health check runs in this server", ephemeral=True)


async def test_everyone_else_is_refused_and_nothing_starts(
    world: tuple[World, simcord.MemberActor, Probes],
) -> None:
    w, _, _ = world
    # Discord hides /health from non-admins; this server's owner let everyone see it anyway
    # (Integrations settings), so the bot's own check is what refuses.
    command = w.env.backend.find_command("health", None)
    assert command is not None
    w.guild.set_command_permissions(int(command["id"]), {w.player: True, w.host: True})
    # A host of the games (Manage Roles) is not an admin of the server.
    for actor in (w.player, w.host):
        refused = answered(await actor.slash(w.channel, "health start", channel=w.channel))
        assert_responded(refused, contains="Only a server admin (Manage Server) can start", ephemeral=True)
    assert not await HealthChecks(w.client, QUEUE).is_running(w.guild.id)
    for verb in ("status", "pause", "resume", "run", "stop"):
        refused = answered(await w.player.slash(w.channel, f"health {verb}"))
        assert_responded(refused, contains="Only a server admin", ephemeral=True)


async def test_reading_a_check_that_never_started_says_how_to_start_it(
    world: tuple[World, simcord.MemberActor, Probes],
) -> None:
    w, admin, _ = world
    read = answered(await admin.slash(w.channel, "health status"))
    assert_message(last_reply(read), contains="no health check runs here; start one with /health start")
