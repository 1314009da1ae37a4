"""`/schedule list`: the waiting jobs of this guild the viewer may see, whatever their action,
with a Cancel button each.

A job is listed only to members who can view its channel (from the guild cache; a job whose
channel is not in the cache, e.g. deleted, only to hosts, so they can clean it up). Hosts may
cancel any job; a player only their own (the facade and the workflow check it again). The
listing is ephemeral and paged; a page is drawn from visibility counts and one short list,
with the viewer's channels in the query (clients/jobs_listing.py), so a guild with thousands
of jobs lists as fast as one with six.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild
from bot.jobs_history import HISTORY_ITEMS, show_history
from bot.jobs_ui import DYNAMIC_ITEMS, PAGE_SIZE, job_section
from bot.persistent import PersistentItem
from bot.replies import guarded
from clients.jobs import utcnow
from components.jobs import PAGE_BUTTON
from workflows.outcomes import OUTCOMES

if TYPE_CHECKING:
    from bot.app import GameBot

VIEW_CODE = "d"
Direction = Literal["prev", "next", "refresh"]


def channel_filter(
    interaction: discord.Interaction[GameBot], as_host: bool
) -> tuple[list[int] | None, list[int]]:
    """(channels, hidden_channels) for the listing: a player sees the jobs of the channels and
    threads they can view; a host every job but those of channels they cannot view, so that a
    job whose channel is gone (not in the cache) is theirs to clean up."""
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return (None, []) if as_host else ([], [])
    places = [*guild.channels, *guild.threads]
    visible = [place.id for place in places if place.permissions_for(member).view_channel]
    if as_host:
        shown = set(visible)
        return None, [place.id for place in places if place.id not in shown]
    return visible, []


async def render_dashboard(
    interaction: discord.Interaction[GameBot], page: int, exclude: Collection[str] = ()
) -> discord.ui.LayoutView:
    """The page of the listing this viewer may see (call after the interaction is acknowledged)."""
    guild_id = require_guild(interaction)
    bot = interaction.client
    channels, hidden = channel_filter(interaction, await bot.hosts.is_host(interaction))
    listed = await bot.jobs.page_jobs(
        guild_id, page=page, size=PAGE_SIZE, channels=channels, hidden_channels=hidden, exclude=exclude
    )
    page, pages = listed.page, listed.pages
    now = utcnow()
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.blurple())
    count = f"{listed.total} waiting" + (f" · page {page + 1} of {pages}" if pages > 1 else "")
    container.add_item(discord.ui.TextDisplay(f"### ⏰ Scheduled in this server\n{count}"))
    if not listed.jobs:
        container.add_item(discord.ui.TextDisplay("Nothing is scheduled."))
    for job in listed.jobs:
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


_LABELS: dict[str, tuple[str, str]] = {
    "prev": ("Previous", "◀️"),
    "next": ("Next", "▶️"),
    "refresh": ("Refresh", "🔄"),
}


class PageButton(PersistentItem[discord.ui.Button[Any]], custom=PAGE_BUTTON):
    def __init__(self, page: int, direction: str, *, disabled: bool = False) -> None:
        label, emoji = _LABELS[direction]
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=self.custom.build(page=page, direction=direction),
                disabled=disabled,
            )
        )
        self.page = page

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

    @schedule.command(
        name="history", description="What ran in this server, what failed or was missed, and why"
    )
    @app_commands.describe(
        outcome="Only jobs that ended this way",
        channel="Only jobs of this channel",
        action="Only jobs that run this action (as /schedule list names it)",
    )
    @app_commands.choices(outcome=[app_commands.Choice(name=o, value=o) for o in OUTCOMES])
    async def history(
        self,
        interaction: discord.Interaction[GameBot],
        outcome: str | None = None,
        channel: discord.TextChannel | None = None,
        action: str | None = None,
    ) -> None:
        await show_history(interaction, outcome=outcome, channel=channel, action=action)


async def setup(bot: GameBot) -> None:
    bot.job_listings.add(VIEW_CODE, render_dashboard)
    bot.add_dynamic_items(*DYNAMIC_ITEMS, PageButton, *HISTORY_ITEMS)
    await bot.add_cog(JobsCog(bot))
