"""`/admin export`: this server's data as one file, for its admins (Manage Server).

The file is the versioned document of adoption/server.py (custom actions, chains, season rules
and defaults, settings, waiting jobs; never a whisper), attached to an ephemeral reply. An
operator imports it into this or another server with `python -m adoption import`.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from adoption.server import export_server, to_json
from adoption.target import Target
from bot.cogs.health import require_admin
from bot.replies import in_time

if TYPE_CHECKING:
    from bot.app import GameBot

# Reading every job's and chain's plan takes a query each: more than one update's wait.
EXPORT_WAIT = 60.0


class AdminCog(commands.Cog, name="Admin"):
    admin = app_commands.Group(
        name="admin",
        description="This server's data (admins)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot
        self.target = Target(bot.temporal, bot.settings.temporal_task_queue)

    @admin.command(
        name="export", description="This server's custom actions, chains, rules, settings and jobs as a file"
    )
    async def export(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_admin(interaction, "export this server's data")
        await interaction.response.defer(ephemeral=True, thinking=True)
        document = await in_time(export_server(self.target, guild_id), EXPORT_WAIT)
        name = f"server-{guild_id}-{document.exported_at:%Y%m%d-%H%M%S}.json"
        summary = (
            f"📦 This server's data: {len(document.custom_actions)} custom actions, "
            f"{len(document.chains)} chains, {len(document.jobs)} waiting jobs, its settings and "
            "season rules. Whispers are never exported.\n"
            "An operator brings it into this or another server with "
            f"`python -m adoption import {name} --guild <server id>` (try `--dry-run` first)."
        )
        file = discord.File(io.BytesIO(to_json(document).encode()), filename=name)
        await interaction.followup.send(summary, file=file, ephemeral=True)


async def setup(bot: GameBot) -> None:
    await bot.add_cog(AdminCog(bot))
