"""The server's health check, for its admins (Manage Server).

    /health start <channel> [minutes] [role]  -> one check per server (starting twice attaches to it)
    /health status | pause | resume | run | stop

The check posts to the channel only when the state changes and once a day; a change to degraded
or failing mentions the role. Updates and queries
wait for a worker: they come after a defer, inside `in_time`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild
from bot.names import names_of
from bot.replies import in_time, reply
from clients.health import HealthChecks, HealthError
from workflows.health_models import HealthStatus, probe_label

if TYPE_CHECKING:
    from bot.app import GameBot

ICONS = {"healthy": "🟢", "degraded": "🟡", "failing": "🔴", None: "⚪"}
ADMIN_RULE = "a server admin (Manage Server)"


class NotAdmin(app_commands.CheckFailure):
    def __init__(self, what: str) -> None:
        super().__init__(f"Only {ADMIN_RULE} can {what}.")


def require_admin(interaction: discord.Interaction[Any], what: str) -> int:
    """The guild id, if the user has Manage Server there (Administrator implies it)."""
    guild_id = require_guild(interaction)
    if not interaction.permissions.manage_guild:
        raise NotAdmin(what)
    return guild_id


def status_text(status: HealthStatus) -> str:
    state = status.state or "not checked yet"
    lines = [f"### {ICONS[status.state]} Health: {state}" + (" · ⏸️ paused" if status.paused else "")]
    minutes = int(status.interval.total_seconds() // 60)
    where = f"posts to <#{status.admin_channel_id}>" if status.admin_channel_id else "posts nowhere"
    lines.append(f"Every {minutes} min · {where} on a change and once a day")
    if status.alert_role_id is not None:
        lines.append(f"Mentions <@&{status.alert_role_id}> when it turns degraded or failing")
    if status.last_checked is not None:
        lines.append(
            f"Last check {discord.utils.format_dt(status.last_checked, 'R')} ({status.checks} in all)"
        )
    if status.next_check is not None:
        lines.append(f"Next check {discord.utils.format_dt(status.next_check, 'R')}")
    lines += [f"{ICONS[r.state]} {probe_label(r.name)}: {r.detail}" for r in status.results]
    if status.runs:
        runs = ", ".join(
            f"{ICONS[run.state]} {discord.utils.format_dt(run.at, 't')}" for run in reversed(status.runs)
        )
        lines.append(f"Last runs, newest first: {runs}")
    return "\n".join(lines)[:2000]


class HealthCog(commands.Cog, name="Health"):
    health = app_commands.Group(
        name="health",
        description="This server's health check (admins)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot
        self.checks = HealthChecks(bot.temporal, bot.settings.temporal_task_queue)

    @health.command(name="start", description="Start checking this server's bot health")
    @app_commands.describe(
        channel="Where to post changes",
        minutes="Minutes between checks (1-1440)",
        role="Mentioned when the health turns degraded or failing",
    )
    async def start(
        self,
        interaction: discord.Interaction[GameBot],
        channel: discord.TextChannel,
        minutes: app_commands.Range[int, 1, 1440] = 5,
        role: discord.Role | None = None,
    ) -> None:
        guild_id = require_admin(interaction, "start the health check")
        # Describe and start are answered by the server alone: no worker, no defer needed.
        if await self.checks.is_running(guild_id):
            await reply(interaction, "The health check already runs in this server; see `/health status`.")
            return
        try:
            await self.checks.start(
                guild_id=guild_id,
                admin_channel_id=channel.id,
                interval=timedelta(minutes=minutes),
                started_by=interaction.user.id,
                alert_role_id=None if role is None else role.id,
                names=names_of(interaction, channel),
            )
        except HealthError as err:
            await reply(interaction, f"Nothing was started: {err}")
            return
        alert = "" if role is None else f", mentioning {role.mention} when it turns degraded or failing"
        await reply(
            interaction,
            f"🩺 Health check started: every {minutes} min, posting to {channel.mention} "
            f"when the state changes and once a day{alert}.",
        )

    @health.command(name="status", description="The last health check's results")
    async def status(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_admin(interaction, "read the health check")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await reply(interaction, status_text(await in_time(self.checks.status(guild_id))))

    @health.command(name="pause", description="Pause the health check")
    async def pause(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_admin(interaction, "pause the health check")
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await in_time(self.checks.pause(guild_id, by=interaction.user.id))
        await reply(interaction, f"⏸️ Paused.\n{status_text(status)}")

    @health.command(name="resume", description="Resume the health check")
    async def resume(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_admin(interaction, "resume the health check")
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await in_time(self.checks.resume(guild_id, by=interaction.user.id))
        await reply(interaction, f"▶️ Resumed.\n{status_text(status)}")

    @health.command(name="run", description="Check now")
    async def run_now(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_admin(interaction, "run the health check")
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await in_time(self.checks.run_now(guild_id, by=interaction.user.id))
        await reply(interaction, status_text(status))

    @health.command(name="stop", description="Stop the health check")
    async def stop(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_admin(interaction, "stop the health check")
        # Describe and signal are answered by the server alone: no worker, no defer needed.
        if not await self.checks.is_running(guild_id):
            await reply(interaction, "No health check runs in this server.")
            return
        await self.checks.stop(guild_id, by=interaction.user.id)
        await reply(interaction, "⏹️ Health check stopped. Start it again with `/health start`.")


async def setup(bot: GameBot) -> None:
    await bot.add_cog(HealthCog(bot))
