"""`/schedule list`: the waiting jobs of this guild the viewer may see, whatever their action,
with a Cancel button each.

A job is listed only to members who can view its channel (from the guild cache; a job whose
channel is not in the cache, e.g. deleted, only to hosts, so they can clean it up). Hosts may
cancel any job; a player only their own (the facade and the workflow check it again). The
listing is ephemeral, paged, and built from one visibility query per page drawn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild
from bot.jobs_ui import DYNAMIC_ITEMS, PAGE_SIZE, job_section, register_renderer
from bot.replies import guarded
from clients.jobs import JobSummary, utcnow

if TYPE_CHECKING:
    from bot.app import GameBot

VIEW_CODE = "d"
Direction = Literal["prev", "next", "refresh"]


def may_see(interaction: discord.Interaction[GameBot], job: JobSummary, as_host: bool) -> bool:
    """Whether the viewer can view the job's channel; one the cache does not know: hosts only."""
    guild, member = interaction.guild, interaction.user
    channel = guild.get_channel_or_thread(job.channel_id) if guild is not None else None
    if channel is None or not isinstance(member, discord.Member):
        return as_host
    return channel.permissions_for(member).view_channel


async def render_dashboard(
    interaction: discord.Interaction[GameBot], page: int, exclude: Collection[str] = ()
) -> discord.ui.LayoutView:
    """The page of the listing this viewer may see (call after the interaction is acknowledged)."""
    guild_id = require_guild(interaction)
    bot = interaction.client
    as_host = await bot.hosts.is_host(interaction)
    jobs = [
        job
        for job in await bot.jobs.get_jobs(guild_id)
        if job.job_id not in exclude and may_see(interaction, job, as_host)
    ]
    pages = max(1, math.ceil(len(jobs) / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    now = utcnow()
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.blurple())
    count = f"{len(jobs)} waiting" + (f" · page {page + 1} of {pages}" if pages > 1 else "")
    container.add_item(discord.ui.TextDisplay(f"### ⏰ Scheduled in this server\n{count}"))
    if not jobs:
        container.add_item(discord.ui.TextDisplay("Nothing is scheduled."))
    for job in jobs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        container.add_item(job_section(job, VIEW_CODE, page, now))
    view.add_item(container)
    view.add_item(
        discord.ui.ActionRow(
            PageButton(max(page - 1, 0), "prev", disabled=page == 0),
            PageButton(page, "refresh"),
            PageButton(min(page + 1, pages - 1), "next", disabled=page >= pages - 1),
        )
    )
    return view


register_renderer(VIEW_CODE, render_dashboard)

_LABELS: dict[str, tuple[str, str]] = {
    "prev": ("Previous", "◀️"),
    "next": ("Next", "▶️"),
    "refresh": ("Refresh", "🔄"),
}


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"jobs:page:(?P<page>\d{1,4}):(?P<direction>prev|next|refresh)",
):
    def __init__(self, page: int, direction: str, *, disabled: bool = False) -> None:
        label, emoji = _LABELS[direction]
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=f"jobs:page:{page}:{direction}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        return cls(int(match["page"]), match["direction"])

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        require_guild(interaction)
        # A visibility query is quick, but it is a network call: acknowledge first.
        await interaction.response.defer()
        view = await render_dashboard(interaction, self.page)
        await interaction.edit_original_response(view=view)


class JobsCog(commands.Cog):
    schedule = app_commands.Group(
        name="schedule", description="Jobs scheduled in this server", guild_only=True
    )

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot

    @schedule.command(name="list", description="Every scheduled job in this server, with time remaining")
    async def list_jobs(self, interaction: discord.Interaction[GameBot]) -> None:
        assert interaction.guild_id is not None  # guild_only
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await render_dashboard(interaction, 0)
        await interaction.followup.send(view=view, ephemeral=True)


async def setup(bot: GameBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS, PageButton)
    await bot.add_cog(JobsCog(bot))
