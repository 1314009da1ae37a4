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

import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import format_dt

from bot.checks import require_guild, require_host
from bot.jobs_history import HISTORY_ITEMS, show_history
from bot.jobs_steer import DYNAMIC_ITEMS as STEER_ITEMS
from bot.jobs_steer import SteerSelect, submit_steer
from bot.jobs_ui import DYNAMIC_ITEMS, PAGE_SIZE, job_section, repeats_text
from bot.live_listings import Watched
from bot.names import names_of
from bot.persistent import PersistentItem
from bot.replies import guarded, in_time
from clients.guild_settings import LogChannel
from clients.jobs import SchedulingError, utcnow
from clients.repeats import RepeatInfo, free_name
from clients.time_zones import known_zones
from components.jobs import PAGE_BUTTON, STEER_MODAL
from workflows.common import visible
from workflows.jobs_actions import POST_MESSAGE
from workflows.jobs_models import DEFAULT_TIME_ZONE, MAX_DELAY, IfLate, Reminder
from workflows.outcomes import OUTCOMES
from workflows.times import TimeError, format_human, parse_duration, parse_if_late, parse_when, suggest_zones

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


def late_policy(late: IfLate | None) -> str:
    """The host's late policy in the confirmation ("" for the default)."""
    if late is None:
        return ""
    if late.skip_after is None:
        return " If the bot is offline then, it will post it as soon as it is back."
    return (
        " If the bot is offline then, it will skip it if it could only post it more than"
        f" {format_human(late.skip_after)} late."
    )


async def render_dashboard(
    interaction: discord.Interaction[GameBot], page: int, exclude: Collection[str] = ()
) -> discord.ui.LayoutView:
    """The page of the listing this viewer may see (call after the interaction is acknowledged)."""
    view, _ = await dashboard(interaction, page, exclude)
    return view


async def dashboard(
    interaction: discord.Interaction[GameBot], page: int, exclude: Collection[str] = ()
) -> tuple[discord.ui.LayoutView, dict[str, datetime]]:
    """The page, and the jobs it shows with their deadlines."""
    guild_id = require_guild(interaction)
    bot = interaction.client
    as_host = await bot.hosts.is_host(interaction)
    channels, hidden = channel_filter(interaction, as_host)
    listed = await bot.jobs.page_jobs(
        guild_id, page=page, size=PAGE_SIZE, channels=channels, hidden_channels=hidden, exclude=exclude
    )
    page, pages = listed.page, listed.pages
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.blurple())
    count = f"{listed.total} waiting" + (f" · page {page + 1} of {pages}" if pages > 1 else "")
    container.add_item(discord.ui.TextDisplay(f"### ⏰ Scheduled in this server\n{count}"))
    # The server's repeats, on the first page, each where this viewer would see its jobs.
    repeats: list[RepeatInfo] = []
    more = 0
    if page == 0:
        found, total = await bot.repeats.listing(guild_id)

        def shown(repeat: RepeatInfo) -> bool:
            if channels is None:  # a host: all but those of channels they cannot view
                return repeat.channel_id not in hidden
            return repeat.channel_id in channels

        repeats = [repeat for repeat in found if shown(repeat)]
        more = total - len(found)
    if not listed.jobs and not repeats:
        container.add_item(discord.ui.TextDisplay("Nothing is scheduled."))
    # A player may cancel or change only their own jobs: no control for anyone else's.
    theirs = [job for job in listed.jobs if as_host or job.scheduled_by == interaction.user.id]
    for job in listed.jobs:
        container.add_item(job_section(job, VIEW_CODE, page, may_cancel=job in theirs))
    if repeats:
        container.add_item(discord.ui.TextDisplay(repeats_text(repeats, more, as_host=as_host)))
    view.add_item(container)
    if theirs:
        view.add_item(discord.ui.ActionRow(SteerSelect(page, theirs)))
    view.add_item(
        discord.ui.ActionRow(
            PageButton(max(page - 1, 0), "prev", disabled=page == 0),
            PageButton(page, "refresh"),
            PageButton(min(page + 1, pages - 1), "next", disabled=page >= pages - 1),
        )
    )
    return view, {job.job_id: job.deadline for job in listed.jobs}


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


def watch_listing(
    interaction: discord.Interaction[GameBot], message_id: int, shown: dict[str, datetime]
) -> None:
    """The first page, kept true while its token lasts (bot/live_listings.py)."""
    guild_id = interaction.guild_id
    assert guild_id is not None

    async def listing() -> dict[str, datetime]:
        _, shown = await dashboard(interaction, 0)
        return shown

    async def redraw(exclude: Collection[str]) -> bool:
        try:
            await interaction.edit_original_response(view=await render_dashboard(interaction, 0, exclude))
        except discord.NotFound:
            return False
        return True

    until = utcnow() + timedelta(minutes=14)
    watched = Watched(
        guild_id, (interaction.channel_id or 0, message_id), shown, listing, redraw, until=until
    )
    interaction.client.live_listings.watch(watched)


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
        view, shown = await dashboard(interaction, 0)
        posted = await interaction.followup.send(view=view, ephemeral=True, wait=True)
        watch_listing(interaction, posted.id, shown)

    @schedule.command(
        name="history", description="What ran in this server, what failed or was missed, and why"
    )
    @app_commands.describe(
        outcome="Only jobs that ended this way",
        channel="Only jobs of this channel",
        action="Only jobs of this kind, as /schedule list names it (like Safari round results)",
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

    @schedule.command(
        name="post", description="Post a message in a channel at a time, with reminders before it"
    )
    @app_commands.describe(
        channel="Where to post it",
        message="What to post (up to 2000 characters)",
        when="A wait like 90m or a time like 8pm, Friday 20:00, 2026-12-24 18:00 (in your time zone)",
        reminders="Reminders before it, like `1h, 10m` (optional)",
        repeat="Post it again: `every day at 09:00`, `every 6h` (from `when`, if given); "
        "named: `news: every 6h`",
        ends="For a repeat: a time like 2027-01-31 18:00, or a count like `5 times` (optional)",
        if_late="If the bot was offline at its time: `run anyway`, or `skip after 30m` "
        "(default: skip after 1h)",
    )
    async def post(
        self,
        interaction: discord.Interaction[GameBot],
        channel: discord.TextChannel,
        message: app_commands.Range[str, 1, 2000],
        when: str = "",
        reminders: str = "",
        repeat: str = "",
        ends: str = "",
        if_late: app_commands.Range[str, 0, 40] = "",
    ) -> None:
        guild_id = await require_host(interaction, "schedule a post")
        member = interaction.user
        if isinstance(member, discord.Member) and not channel.permissions_for(member).send_messages:
            raise SchedulingError(
                f"you cannot post in {channel.mention}, so you cannot schedule a post there"
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = self.bot
        now = bot.jobs.now()
        try:
            visible(message, "the message", SchedulingError)
            late = IfLate(skip_after=parse_if_late(if_late, maximum=MAX_DELAY)) if if_late.strip() else None
            zone = await in_time(bot.time_zones.for_user(guild_id, member.id))
            planned = [
                Reminder(offset=parse_duration(part, maximum=MAX_DELAY), message=part.strip())
                for part in reminders.split(",")
                if part.strip()
            ]
            if repeat.strip():
                first = parse_when(when, zone, now, maximum=MAX_DELAY) if when.strip() else None
                text = await self._repeat_post(
                    interaction, channel, message, repeat, ends, planned, zone, late, first
                )
                await interaction.followup.send(text, ephemeral=True)
                return
            if not when.strip():
                raise SchedulingError("give a time (`when`) or a repeat (`repeat`)")
            at = parse_when(when, zone, now, maximum=MAX_DELAY)
            await in_time(
                bot.jobs.schedule(
                    POST_MESSAGE,
                    {"content": message},
                    guild_id=guild_id,
                    channel_id=channel.id,
                    scheduled_by=member.id,
                    at=at,
                    reminders=planned,
                    description=f"Post: {message[:60]}",
                    if_late=late,
                    names=names_of(interaction, channel),
                )
            )
        except (SchedulingError, TimeError) as err:
            await interaction.followup.send(f"Nothing was scheduled: {err}", ephemeral=True)
            return
        before = f" Reminders: {', '.join(r.message for r in planned)} before." if planned else ""
        stamp = f"{format_dt(at, 'F')} ({format_dt(at, 'R')})"
        await interaction.followup.send(
            f"Scheduled a post in {channel.mention} for {stamp}.{before}{late_policy(late)}\n"
            "Move, pause or cancel it from `/schedule list`.",
            ephemeral=True,
        )

    async def _repeat_post(
        self,
        interaction: discord.Interaction[GameBot],
        channel: discord.TextChannel,
        message: str,
        repeat: str,
        ends: str,
        planned: list[Reminder],
        zone: str,
        late: IfLate | None,
        first: datetime | None,
    ) -> str:
        # `news: every day at 09:00` names it; `every day at 09:00` (its colon no name's) does not.
        named = re.fullmatch(r"\s*([A-Za-z0-9_-]{1,40})\s*:\s*(.+)", repeat, re.DOTALL)
        assert interaction.guild_id is not None
        if named and not named[1].lower().startswith("every"):
            name, every = named[1], named[2]
        else:
            name, every = (
                free_name(message, await in_time(self.bot.repeats.names(interaction.guild_id))),
                repeat,
            )
        until, count = None, None
        counted = re.fullmatch(r"\s*([0-9]{1,4})\s*(?:times?|x)?\s*", ends)
        if counted:
            count = int(counted[1])
        elif ends.strip():
            until = parse_when(ends, zone, self.bot.jobs.now(), maximum=MAX_DELAY)
        info = await in_time(
            self.bot.repeats.create(
                name,
                every,
                zone=zone,
                guild_id=interaction.guild_id,
                channel_id=channel.id,
                scheduled_by=interaction.user.id,
                action=POST_MESSAGE,
                payload={"content": message},
                reminders=planned,
                description=f"Post: {message[:60]}",
                until=until,
                names=names_of(interaction, channel),
                count=count,
                if_late=late,
                first=first,
            )
        )
        nxt = f"next {format_dt(info.next_times[0], 'F')}" if info.next_times else "no time left"
        end = f", {count} times" if count else (f", until {format_dt(until, 'F')}" if until else "")
        before = f" Reminders: {', '.join(r.message for r in planned)} before each." if planned else ""
        return (
            f"Repeat **{info.name}**: a post in {channel.mention} {info.every} ({info.zone}){end}; {nxt}."
            f"{before}{late_policy(late)}\n"
            f"Pause, skip, change or end it with `/schedule repeat name:{info.name}`."
        )

    @schedule.command(name="repeat", description="Pause, resume, skip, change or end a repeat")
    @app_commands.describe(
        name="The repeat's name",
        do="What to do with it",
        every="The new pattern, for `change` (like `every Friday 20:00`)",
    )
    async def repeat_command(
        self,
        interaction: discord.Interaction[GameBot],
        name: str,
        do: Literal["show", "pause", "resume", "skip-next", "run-now", "change", "end"] = "show",
        every: str = "",
    ) -> None:
        guild_id = await require_host(interaction, "change a repeat")
        await interaction.response.defer(ephemeral=True, thinking=True)
        repeats, by = self.bot.repeats, interaction.user.id
        # require_host checked the role: the client checks who may change it again (as_host).
        try:
            if do == "pause":
                await in_time(repeats.pause(guild_id, name, by=by, as_host=True))
            elif do == "resume":
                await in_time(repeats.resume(guild_id, name, by=by, as_host=True))
            elif do == "skip-next":
                skipped = await in_time(repeats.skip_next(guild_id, name, by=by, as_host=True))
                await interaction.followup.send(
                    f"Skipped the occurrence of {format_dt(skipped, 'F')}.", ephemeral=True
                )
                return
            elif do == "run-now":
                await in_time(repeats.run_now(guild_id, name, by=by, as_host=True))
            elif do == "change":
                zone = await in_time(self.bot.time_zones.for_user(guild_id, by))
                await in_time(repeats.change(guild_id, name, every, zone=zone, by=by, as_host=True))
            elif do == "end":
                await in_time(repeats.end(guild_id, name, by=by, as_host=True))
                await interaction.followup.send(
                    f"Ended **{name}**: nothing more is started (occurrences already listed stay).",
                    ephemeral=True,
                )
                return
            info = await in_time(repeats.info(guild_id, name))
        except (SchedulingError, TimeError) as err:
            await interaction.followup.send(f"Nothing was changed: {err}", ephemeral=True)
            return
        state = "⏸️ paused" if info.paused else "active"
        left = f" · {info.remaining} left" if info.remaining is not None else ""
        if info.paused:
            # The schedule still lists its times while paused; none of them will be posted.
            after = "Nothing more is posted until it is resumed (occurrences already listed stay)."
        else:
            after = f"Next: {', '.join(format_dt(t, 'F') for t in info.next_times[:3]) or 'none'}."
        await interaction.followup.send(
            f"Repeat **{info.name}**: {info.every} ({info.zone}), {state}{left}.\n{after}",
            ephemeral=True,
        )

    @repeat_command.autocomplete("name")
    async def _repeat_names(
        self, interaction: discord.Interaction[GameBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.bot.repeats.names(interaction.guild_id)
        return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n][:25]

    @schedule.command(name="timezone", description="The server's time zone, for times members type")
    @app_commands.describe(zone="An IANA name like Europe/Paris or America/New_York; empty to show it")
    async def timezone(self, interaction: discord.Interaction[GameBot], zone: str | None = None) -> None:
        zones = self.bot.time_zones
        if zone is None:
            guild_id = require_guild(interaction)
            shown = await zones.server(guild_id)
            await interaction.response.send_message(
                f"This server's time zone is **{shown}**.", ephemeral=True
            )
            return
        guild_id = await require_host(interaction, "set the server's time zone")
        await interaction.response.defer(ephemeral=True, thinking=True)
        chosen = await in_time(zones.set_server(guild_id, zone))
        await interaction.followup.send(
            f"This server's time zone is now **{chosen}**: `Friday 20:00` means 20:00 there.", ephemeral=True
        )

    @schedule.command(name="log-channel", description="Where the bot tells what an outage cost (hosts)")
    @app_commands.describe(channel="The channel for outage summaries; empty to send them to you by DM")
    async def log_channel(
        self, interaction: discord.Interaction[GameBot], channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = await require_host(interaction, "set the log channel")
        # The setting is a store update that waits for a worker: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await in_time(
            LogChannel(self.bot.guild_settings).set(guild_id, None if channel is None else channel.id)
        )
        text = (
            f"After an outage, what ran late, was missed or failed is told in {channel.mention}."
            if channel
            else "Outage summaries now go by DM to the host who scheduled the jobs."
        )
        await interaction.followup.send(text, ephemeral=True)

    @schedule.command(name="my-timezone", description="Your own time zone, for times you type")
    @app_commands.describe(
        zone=f"An IANA name like Europe/Paris; `server` to use the server's ({DEFAULT_TIME_ZONE} unless set)"
    )
    async def my_timezone(self, interaction: discord.Interaction[GameBot], zone: str) -> None:
        guild_id = require_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        zones = self.bot.time_zones
        if zone.strip().lower() == "server":
            await in_time(zones.set_member(guild_id, interaction.user.id, None))
            server = await zones.server(guild_id)
            await interaction.followup.send(
                f"Your times are read in the server's zone, **{server}**.", ephemeral=True
            )
            return
        chosen = await in_time(zones.set_member(guild_id, interaction.user.id, zone))
        await interaction.followup.send(f"Your times are now read in **{chosen}**.", ephemeral=True)

    @timezone.autocomplete("zone")
    @my_timezone.autocomplete("zone")
    async def _zones(
        self, interaction: discord.Interaction[GameBot], current: str
    ) -> list[app_commands.Choice[str]]:
        names = (
            suggest_zones(current, known_zones(), 25)
            if current
            else ["UTC", "Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles"]
        )
        return [app_commands.Choice(name=name, value=name) for name in names]


async def setup(bot: GameBot) -> None:
    bot.job_listings.add(VIEW_CODE, render_dashboard)
    bot.add_dynamic_items(*DYNAMIC_ITEMS, *STEER_ITEMS, PageButton, *HISTORY_ITEMS)
    bot.modals.add(STEER_MODAL, submit_steer)
    await bot.add_cog(JobsCog(bot))
