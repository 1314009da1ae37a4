"""The Retry button on a failed or missed job (`/schedule history`, outage summaries): hosts only.

Starting a workflow needs no worker, so Retry is answered with the worker stopped too; the run
then waits for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.checks import require_host
from bot.persistent import PersistentItem
from bot.replies import guarded
from clients.jobs_retry import retry_job
from components.jobs import RETRY_JOB

if TYPE_CHECKING:
    from bot.app import GameBot


class RetryButton(PersistentItem[discord.ui.Button[Any]], custom=RETRY_JOB):
    def __init__(self, run: str, suffix: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Retry",
                emoji="🔁",
                style=discord.ButtonStyle.primary,
                custom_id=self.custom.build(run=run, suffix=suffix),
            )
        )
        self.run = run
        self.suffix = suffix

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "retry a job")
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = interaction.client
        await retry_job(bot.temporal, bot.jobs, guild_id, self.suffix, self.run, by=interaction.user.id)
        await interaction.followup.send(
            "🔁 Retrying now: what was already done is not done again."
            " `/schedule history` shows how it went.",
            ephemeral=True,
        )
