"""Safari scheduling (CastBot's "Schedule Results"): a host types when (`90m`, `Friday 20:00`) in a modal,
the bot starts a scheduled job with reminders 30, 5 and 1 minute before, and the panel lists
the guild's scheduled results with a Cancel button each.

Every button is a `DynamicItem` and the modal is answered by the bot's modal router, both keyed
on custom ids (components/safari.py), so nothing here depends on state held by a running bot process.

What would make a round fail at its deadline is refused when it is scheduled: a thread (no
webhooks there), the bot missing Manage Webhooks, Send Messages or View Channel (checked before
the modal opens and again on submit, from the interaction's `app_permissions`), and, after the submission is
acknowledged, the game itself (none, nobody joined, over, too big: `clients.safari`). Each
round's job has the key `safari-round-<n>`, so a second submission for the same round is refused.
Every call that needs a worker comes after the interaction is acknowledged, within `in_time`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild, require_host
from bot.jobs_steer import ChangeJobButton, steer_row
from bot.jobs_ui import DYNAMIC_ITEMS, PAGE_SIZE, due_text, job_section
from bot.live_listings import Watched
from bot.modals import modal_values
from bot.names import names_of
from bot.persistent import PersistentItem
from bot.replies import NotAnswered, guarded, in_time, reply
from bot.typed_when import typed_wait, when_field
from clients import safari as game_store
from clients.jobs import SchedulingError
from clients.jobs_listing import JobSummary
from clients.names import NO_NAMES, Names
from components.safari import (
    JOIN_BUTTON,
    MANAGE_BUTTON,
    REFRESH_BUTTON,
    SCHEDULE_BUTTON,
    SCHEDULE_MODAL,
    STATUS_BUTTON,
)
from workflows.common import UserError
from workflows.jobs_models import Reminder, job_suffix, run_tag
from workflows.safari_engine import PROCESS_ROUND_RESULTS, SafariError, SafariGame, standings
from workflows.times import TimeError

if TYPE_CHECKING:
    from bot.app import GameBot

# The action a Safari job runs at its deadline: resolve the next round, post its results card.
RESULTS_ACTION = PROCESS_ROUND_RESULTS
SAFARI_DESCRIPTION = "Safari Round Results"

MINUTE = timedelta(minutes=1)
MAX_HOURS = 168
MAX_WAIT = timedelta(hours=MAX_HOURS)
# CastBot's reminders: (minutes before the results, what the reminder says).
REMINDER_RULES: tuple[tuple[int, str], ...] = ((30, "30 minutes"), (5, "5 minutes"), (1, "1 minute"))

PANEL_CODE = "s"  # Cancel buttons on panels posted before they moved to Manage
MANAGE_CODE = "m"
THREAD_TYPES = frozenset(
    {discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.news_thread}
)


class CannotSchedule(UserError):
    """A round that would fail at its deadline for a reason known now; shown to the host."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Nothing was scheduled: {reason}")


def round_job_key(round_number: int) -> str:
    """One job per round: the scheduler refuses a second job under the same key."""
    return f"safari-round-{round_number}"


def check_channel(interaction: discord.Interaction[Any]) -> None:
    """Refuse a channel where the results could not be posted (no worker needed)."""
    channel = interaction.channel
    if channel is not None and channel.type in THREAD_TYPES:
        raise CannotSchedule(
            "this is a thread, and webhooks (which post the results card) cannot be made in "
            "threads. Schedule it from the parent channel."
        )
    allowed = interaction.app_permissions
    missing = [
        name
        for name, has in (
            ("Manage Webhooks", allowed.manage_webhooks),
            ("Send Messages", allowed.send_messages),
            ("View Channel", allowed.view_channel),
        )
        if not has
    ]
    if missing:
        raise CannotSchedule(
            f"the bot lacks {' and '.join(missing)} in this channel, so it could not post the "
            "reminders and results. Grant them here, then schedule again."
        )


def safari_reminders(wait: timedelta, unit: timedelta = MINUTE) -> list[Reminder]:
    """CastBot's reminders, 30, 5 and 1 minute before: each one that falls after the moment of
    scheduling (a 40-minute wait gets all three). `unit` scales minutes, for tests in seconds."""
    return [
        Reminder(offset=offset * unit, message=message)
        for offset, message in REMINDER_RULES
        if offset * unit < wait
    ]


def results_title(round_number: int) -> str:
    """How the public post names a round's results (the job keeps it, to correct the post)."""
    return f"🦁 **Safari round {round_number} results**"


@dataclass(frozen=True)
class Scheduled:
    job_id: str
    deadline: datetime
    reminders: list[Reminder]
    round_number: int


async def schedule_results(
    bot: GameBot,
    *,
    guild_id: int,
    channel_id: int,
    user_id: int,
    wait: timedelta,
    round_number: int,
    unit: timedelta = MINUTE,
    names: Names = NO_NAMES,
) -> Scheduled:
    """What the modal calls: one scheduled job for this round's results, keyed by the round."""
    reminders = safari_reminders(wait, unit)
    # An absolute deadline computed once here, so the confirmation shows exactly the job's deadline.
    deadline = bot.jobs.now() + wait
    try:
        job_id = await bot.jobs.schedule(
            RESULTS_ACTION,
            {"round": round_number},
            guild_id=guild_id,
            channel_id=channel_id,
            scheduled_by=user_id,
            at=deadline,
            reminders=reminders,
            description=SAFARI_DESCRIPTION,
            key=round_job_key(round_number),
            names=names,
        )
    except SchedulingError as err:
        # The key's job is still running: this round is already scheduled (a second submission).
        if round_job_key(round_number) in str(err):
            raise CannotSchedule(
                f"round {round_number}'s results are already scheduled. Cancel them from "
                "`/safari panel` first to pick another time."
            ) from None
        raise CannotSchedule(str(err)) from None
    return Scheduled(job_id, deadline, reminders, round_number)


def spoken(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def confirmation(user_id: int, scheduled: Scheduled) -> str:
    deadline = scheduled.deadline
    when = f"{discord.utils.format_dt(deadline, 'F')} ({discord.utils.format_dt(deadline, 'R')})"
    planned = [r.message for r in scheduled.reminders]
    left_out = [message for _, message in REMINDER_RULES if message not in planned]
    if planned:
        extra = f"Reminders in this channel {spoken(planned)} before."
        if left_out:
            extra += f" None {spoken(left_out)} before: the wait is shorter."
    else:
        extra = "No reminders: the wait is a minute or less."
    return f"{results_title(scheduled.round_number)} scheduled by <@{user_id}> for {when}.\n{extra}"


def schedule_modal() -> discord.ui.Modal:
    modal = discord.ui.Modal(title="Schedule Safari results", custom_id=SCHEDULE_MODAL.build(), timeout=900)
    modal.add_item(when_field("When the results are posted"))
    return modal


async def open_schedule_modal(interaction: discord.Interaction[GameBot]) -> None:
    await require_host(interaction, "schedule results")  # the host role through describe
    check_channel(interaction)
    await interaction.response.send_modal(schedule_modal())


def safari_jobs(jobs: Sequence[JobSummary]) -> list[JobSummary]:
    return [job for job in jobs if job.action == RESULTS_ACTION and job.description == SAFARI_DESCRIPTION]


async def scheduled_results(bot: GameBot, guild_id: int, exclude: Collection[str] = ()) -> list[JobSummary]:
    listed = await in_time(bot.jobs.get_jobs(guild_id, action=RESULTS_ACTION))
    return [job for job in safari_jobs(listed) if job.job_id not in exclude]


def results_list(
    container: discord.ui.Container[Any], jobs: list[JobSummary], code: str, manage: bool
) -> None:
    if not jobs:
        container.add_item(discord.ui.TextDisplay("No round results are scheduled."))
    for job in jobs[:PAGE_SIZE]:
        container.add_item(job_section(job, code, 0, may_cancel=manage))
    if len(jobs) > PAGE_SIZE:
        container.add_item(
            discord.ui.TextDisplay(f"…and {len(jobs) - PAGE_SIZE} more: see `/schedule list`.")
        )


def panel_view(jobs: list[JobSummary]) -> discord.ui.LayoutView:
    """The public panel: what everyone may read and use. Cancelling is in Manage (hosts)."""
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.dark_green())
    container.add_item(discord.ui.TextDisplay("## 🦁 Safari\n### Scheduled results"))
    results_list(container, jobs, PANEL_CODE, manage=False)
    view.add_item(container)
    view.add_item(
        discord.ui.ActionRow(
            ScheduleButton(), JoinButton(), StatusButton(), ManageButton(), RefreshPanelButton()
        )
    )
    return view


async def render_panel(bot: GameBot, guild_id: int, exclude: Collection[str] = ()) -> discord.ui.LayoutView:
    return panel_view(await scheduled_results(bot, guild_id, exclude))


async def render_manage(bot: GameBot, guild_id: int, exclude: Collection[str] = ()) -> discord.ui.LayoutView:
    """What Manage shows the host who clicked it alone: the results, a Cancel button each, and
    the menu that changes one."""
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.dark_green())
    container.add_item(discord.ui.TextDisplay("### 🦁 Scheduled Safari results\n-# Only you see this."))
    jobs = await scheduled_results(bot, guild_id, exclude)
    results_list(container, jobs, MANAGE_CODE, manage=True)
    if (steer := steer_row(jobs[:PAGE_SIZE])) is not None:
        container.add_item(steer)  # move, shift, pause or run now: the same panel as /schedule list
    view.add_item(container)
    return view


def watch_panel(
    bot: GameBot, guild_id: int, channel_id: int, message_id: int, shown: list[JobSummary] | None
) -> None:
    """Keep a posted panel true as its results fire or are cancelled (bot/live_listings.py);
    `shown` None: what it shows is not known here, so it is looked at soon."""

    async def listing() -> dict[str, datetime]:
        return {job.job_id: job.deadline for job in await scheduled_results(bot, guild_id)}

    async def redraw(exclude: Collection[str]) -> bool:
        view = await render_panel(bot, guild_id, exclude)
        try:
            await bot.get_partial_messageable(channel_id).get_partial_message(message_id).edit(view=view)
        except discord.NotFound:
            return False
        return True

    known = None if shown is None else {job.job_id: job.deadline for job in shown}
    bot.live_listings.watch(Watched(guild_id, (channel_id, message_id), known, listing, redraw))


def watch_clicked_panel(
    interaction: discord.Interaction[GameBot], shown: list[JobSummary] | None = None
) -> None:
    message = interaction.message
    if interaction.guild_id is not None and message is not None and not message.flags.ephemeral:
        watch_panel(interaction.client, interaction.guild_id, message.channel.id, message.id, shown)


async def _rerender(
    interaction: discord.Interaction[GameBot], page: int, exclude: Collection[str]
) -> discord.ui.LayoutView:
    """A Cancel on a panel posted before Cancel moved to Manage: the panel, as it is now."""
    assert interaction.guild_id is not None
    return await render_panel(interaction.client, interaction.guild_id, exclude)


async def _rerender_manage(
    interaction: discord.Interaction[GameBot], page: int, exclude: Collection[str]
) -> discord.ui.LayoutView:
    assert interaction.guild_id is not None
    return await render_manage(interaction.client, interaction.guild_id, exclude)


class _PanelButton(PersistentItem[discord.ui.Button[Any]]):
    """A button of the panel: its custom id carries nothing but which button it is."""

    def __init__(self, label: str, emoji: str, style: discord.ButtonStyle) -> None:
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=self.custom.build())
        )


class ScheduleButton(_PanelButton, custom=SCHEDULE_BUTTON):
    def __init__(self) -> None:
        super().__init__("Schedule results", "⏰", discord.ButtonStyle.success)

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await open_schedule_modal(interaction)
        watch_clicked_panel(interaction)


class JoinButton(_PanelButton, custom=JOIN_BUTTON):
    def __init__(self) -> None:
        super().__init__("Join", "🙋", discord.ButtonStyle.primary)

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await join_safari(interaction)
        watch_clicked_panel(interaction)


async def join_safari(interaction: discord.Interaction[GameBot]) -> None:
    """Players are kept by the Safari game in the PersistentStore (`clients.safari`)."""
    guild_id = require_guild(interaction)
    bot = interaction.client
    # The join is a store update that waits for a worker: acknowledge first.
    await interaction.response.defer(ephemeral=True, thinking=True)

    async def join() -> game_store.JoinResult:
        store = await game_store.safari_store(bot.temporal, guild_id, bot.settings.temporal_task_queue)
        return await game_store.join(store, interaction.user.id, interaction.user.display_name)

    try:
        result = await in_time(join())
    except SafariError as err:
        await reply(interaction, f"You could not join: {err}")
        return
    text = "🙋 You joined the Safari!" if result.joined else "You are already in the Safari."
    await reply(interaction, text)


async def game_line(bot: GameBot, guild_id: int, user_id: int) -> str:
    """The game's round, player count and the user's balance, for Status."""
    store = game_store.existing_store(bot.temporal, guild_id, bot.settings.temporal_task_queue)
    game = await game_store.load_game(store, results=False)
    if game is None:
        return "Nobody has joined the Safari yet."
    where = (
        "the Safari is over"
        if game.over
        else f"round {game.current_round} of {game.settings.total_rounds} is next"
    )
    count = len(game.players)
    line = f"{count:,} player{'' if count == 1 else 's'}; {where}."
    mine = game.players.get(user_id)
    if mine is not None:
        rank = [pid for pid, _ in standings(game.players)].index(user_id) + 1
        line += f" You have 🪙 {mine.balance:,} (#{rank})."
    return line


class StatusButton(_PanelButton, custom=STATUS_BUTTON):
    def __init__(self) -> None:
        super().__init__("Status", "📋", discord.ButtonStyle.secondary)

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        bot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = safari_jobs(await in_time(bot.jobs.get_jobs(guild_id, action=RESULTS_ACTION)))
        try:
            summary = await in_time(game_line(bot, guild_id, interaction.user.id))
        except NotAnswered:
            summary = "⏳ The game's standings are not available right now (a worker may be restarting)."
        if not jobs:
            await reply(interaction, f"{summary}\nNo Safari round results are scheduled.")
            return
        lines = [f"• results in <#{job.channel_id}> {due_text(job)}" for job in jobs[:10]]
        await reply(interaction, f"{summary}\n**Next Safari round results**\n" + "\n".join(lines))


class RefreshPanelButton(_PanelButton, custom=REFRESH_BUTTON):
    def __init__(self) -> None:
        super().__init__("Refresh", "🔄", discord.ButtonStyle.secondary)

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        await interaction.response.defer()
        jobs = await scheduled_results(interaction.client, guild_id)
        await interaction.edit_original_response(view=panel_view(jobs))
        watch_clicked_panel(interaction, jobs)


class ManageButton(_PanelButton, custom=MANAGE_BUTTON):
    def __init__(self) -> None:
        super().__init__("Manage", "🛠️", discord.ButtonStyle.secondary)

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "manage the Safari (change or cancel its results)")
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await render_manage(interaction.client, guild_id)
        await interaction.followup.send(view=view, ephemeral=True)
        watch_clicked_panel(interaction)


class SafariCog(commands.Cog, name="Safari"):
    safari = app_commands.Group(name="safari", description="Safari rounds", guild_only=True)

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot
        # Minutes typed in the modal are multiplied by this; only end-to-end tests shrink it.
        self.time_unit = timedelta(seconds=bot.settings.safari_minute_seconds)

    @safari.command(name="schedule", description="Schedule this round's results (hosts)")
    async def schedule(self, interaction: discord.Interaction[GameBot]) -> None:
        await open_schedule_modal(interaction)

    @safari.command(name="panel", description="Post the Safari panel: scheduled results, join and status")
    async def panel(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "post the panel")
        await interaction.response.defer(thinking=True)
        jobs = await scheduled_results(self.bot, guild_id)
        posted = await interaction.followup.send(view=panel_view(jobs), wait=True)
        watch_panel(self.bot, guild_id, posted.channel.id, posted.id, jobs)

    @safari.command(name="host-role", description="Set (or clear) the role whose members may host")
    @app_commands.describe(role="Members with this role may host; leave empty to clear")
    @app_commands.default_permissions(manage_roles=True)
    async def host_role(
        self, interaction: discord.Interaction[GameBot], role: discord.Role | None = None
    ) -> None:
        guild_id = require_guild(interaction)
        # Default permissions can be changed by server admins: check again here.
        if not interaction.permissions.manage_roles:
            raise app_commands.MissingPermissions(["manage_roles"])
        # The setting is a store update that waits for a worker: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await in_time(self.bot.hosts.set_host_role(guild_id, role.id if role else None))
        text = (
            f"Members with {role.mention} can now host Safari rounds."
            if role
            else "The host role is cleared."
        )
        await reply(interaction, text)

    async def submit_schedule(self, interaction: discord.Interaction[GameBot]) -> None:
        """The modal's submission, handled from the raw data so it works across restarts."""
        guild_id, channel_id = await require_host(interaction, "schedule results"), interaction.channel_id
        assert channel_id is not None  # every guild interaction has a channel
        check_channel(interaction)  # permissions may have changed while the modal was open
        data: Mapping[str, Any] = interaction.data or {}
        values = modal_values(data.get("components") or [])
        # Reading the member's zone and the game needs a worker: acknowledge first (refusals
        # stay ephemeral).
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            typed = await typed_wait(interaction, values, maximum=MAX_WAIT)
        except TimeError as err:
            await reply(interaction, f"Nothing was scheduled. {err}")
            return
        wait = typed / MINUTE * self.time_unit  # minutes scaled (seconds in tests)
        try:
            game = await in_time(self.next_round(guild_id))
        except SafariError as err:
            raise CannotSchedule(str(err)) from None
        scheduled = await schedule_results(
            self.bot,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=interaction.user.id,
            wait=wait,
            round_number=game.current_round,
            unit=self.time_unit,
            names=names_of(interaction),
        )
        # The host's own answer carries Change…: only the one who may move the round sees it.
        run_id, _, _ = await in_time(self.bot.jobs.owner(scheduled.job_id))
        change = discord.ui.View(timeout=None)
        change.add_item(ChangeJobButton(run_tag(run_id), job_suffix(scheduled.job_id, guild_id)))
        await interaction.followup.send(
            f"✅ Round {scheduled.round_number} results are scheduled.", view=change, ephemeral=True
        )
        posted = await interaction.followup.send(confirmation(interaction.user.id, scheduled), wait=True)
        # The job corrects this public post when it fires, fails, is moved or is cancelled.
        await self.bot.jobs.announced(
            scheduled.job_id,
            channel_id=posted.channel.id,
            message_id=posted.id,
            title=results_title(scheduled.round_number),
        )
        await self.bot.live_listings.changed(guild_id)

    async def next_round(self, guild_id: int) -> SafariGame:
        # Read only: checking a guild that has no game must not start its store.
        store = game_store.existing_store(self.bot.temporal, guild_id, self.bot.settings.temporal_task_queue)
        return await game_store.schedulable_round(store)


async def setup(bot: GameBot) -> None:
    bot.job_listings.add(PANEL_CODE, _rerender)
    bot.job_listings.add(MANAGE_CODE, _rerender_manage)
    bot.add_dynamic_items(
        *DYNAMIC_ITEMS, ScheduleButton, JoinButton, StatusButton, ManageButton, RefreshPanelButton
    )
    cog = SafariCog(bot)
    bot.modals.add(SCHEDULE_MODAL, cog.submit_schedule)
    await bot.add_cog(cog)
