"""Steering one waiting job from Discord: the listing's "Change a job" select opens a panel with
Move (to a time a member types), Later/earlier (by a duration), Run now, Pause or Resume.

Who may: a host, or the member who scheduled the job; checked here from describe (the server
answers alone, so before a form opens) and again by the workflow. Every reply states the new
instant as a Discord timestamp, so each reader sees it in their own zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.checks import require_guild
from bot.jobs_ui import job_title
from bot.modals import modal_values
from bot.persistent import PersistentItem
from bot.replies import guarded, in_time
from clients.jobs import NotAllowed, SchedulingError
from clients.jobs_listing import JobSummary
from components.jobs import BY_FIELD, STEER_BUTTON, STEER_MODAL, STEER_OPEN, STEER_SELECT, WHEN_FIELD
from workflows.jobs_actions import action_label
from workflows.jobs_models import MAX_DELAY, JobStatus, job_id_for, job_suffix, run_tag
from workflows.times import TimeError, format_duration, format_human, parse_duration, parse_when

if TYPE_CHECKING:
    from bot.app import GameBot

VERBS = {"move": "move", "shift": "move", "run": "run", "pause": "pause", "resume": "resume"}


def stamp(moment: Any) -> str:
    return f"{discord.utils.format_dt(moment, 'F')} ({discord.utils.format_dt(moment, 'R')})"


async def may_steer(interaction: discord.Interaction[GameBot], job_id: str, run: str, verb: str) -> bool:
    """Whether the member may change this job (True: as a host); a UserError saying why not."""
    bot = interaction.client
    run_id, owner, running = await bot.jobs.owner(job_id)
    if not running:
        raise NotAllowed("This job is already over.")
    if run and not run_id.endswith(run):
        raise NotAllowed("This panel was for an earlier run of this job, which is over.")
    as_host = await bot.hosts.is_host(interaction)
    if not as_host and owner != interaction.user.id:
        raise NotAllowed(f"Only a host or the member who scheduled this job can {VERBS[verb]} it.")
    return as_host


def panel(status: JobStatus, suffix: str, run: str) -> discord.ui.LayoutView:
    """The job, its time and what was changed, with its controls (ephemeral)."""
    title = job_title(status.description, status.action)
    kind = action_label(status.action)
    lines = [f"### {title}", f"{kind} in <#{status.channel_id}> · by <@{status.scheduled_by}>"]
    if status.paused_left is not None:
        lines.append(f"⏸️ Paused with {format_human(status.paused_left)} left.")
    else:
        lines.append(f"Due {stamp(status.deadline)}.")
        coming = status.next_reminder
        if coming is not None:  # what players will see next, so a host can check it after a move
            lines.append(
                f"Next reminder: {coming.message} before, {discord.utils.format_dt(coming.due, 'R')}."
            )
    lines.extend(
        f"-# {discord.utils.format_dt(c.at, 'f')}: {c.what.split(', to ')[0]} by <@{c.by}>"
        for c in status.changes[-5:]
    )
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.blurple())
    container.add_item(discord.ui.TextDisplay("\n".join(lines)))
    view.add_item(container)
    paused = status.paused_left is not None
    view.add_item(
        discord.ui.ActionRow(
            SteerButton("move", run, suffix, disabled=paused),
            SteerButton("shift", run, suffix, disabled=paused),
            SteerButton("run", run, suffix),
            SteerButton("resume" if paused else "pause", run, suffix),
        )
    )
    return view


class SteerSelect(PersistentItem[discord.ui.Select[Any]], custom=STEER_SELECT):
    """The listing's "Change a job…" menu: one option per job on the page."""

    def __init__(self, page: int, jobs: Sequence[JobSummary] = ()) -> None:
        options = [
            discord.SelectOption(
                label=job_title(job.description, job.action)[:100],
                value=f"{run_tag(job.run_id)}:{job_suffix(job.job_id, job.guild_id)}",
            )
            for job in jobs
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=self.custom.build(page=page),
                placeholder="Change a job…",
                options=options,
            )
        )

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        data: Mapping[str, Any] = interaction.data or {}
        run, _, suffix = str((data.get("values") or [""])[0]).partition(":")
        await open_panel(interaction, run, suffix)


async def open_panel(interaction: discord.Interaction[GameBot], run: str, suffix: str) -> None:
    """The job's steering panel, shown to the member alone if they may change the job."""
    guild_id = require_guild(interaction)
    job_id = job_id_for(guild_id, suffix)
    await may_steer(interaction, job_id, run, "move")
    # The status query needs a worker: acknowledge first.
    await interaction.response.defer(ephemeral=True, thinking=True)
    status = await in_time(interaction.client.jobs.status(job_id))
    await interaction.followup.send(view=panel(status, suffix, run), ephemeral=True)


def steer_row(jobs: Sequence[JobSummary]) -> discord.ui.ActionRow[Any] | None:
    """The "Change a job…" menu for a feature's own panel (Safari, a custom action's editor):
    the same steering as `/schedule list`. None when nothing is listed."""
    return discord.ui.ActionRow(SteerSelect(0, jobs[:25])) if jobs else None


class ChangeJobButton(PersistentItem[discord.ui.Button[Any]], custom=STEER_OPEN):
    """On a job's public post: opens its steering panel for a host or the member who scheduled it."""

    def __init__(self, run: str, suffix: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Change…",
                emoji="🕒",
                style=discord.ButtonStyle.secondary,
                custom_id=self.custom.build(run=run, suffix=suffix),
            )
        )
        self.run, self.suffix = run, suffix

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await open_panel(interaction, self.run, self.suffix)


_BUTTONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "move": ("Move…", "🕒", discord.ButtonStyle.primary),
    "shift": ("Later / earlier…", "↔️", discord.ButtonStyle.secondary),
    "run": ("Run now", "▶️", discord.ButtonStyle.success),
    "pause": ("Pause", "⏸️", discord.ButtonStyle.secondary),
    "resume": ("Resume", "⏯️", discord.ButtonStyle.success),
}


class SteerButton(PersistentItem[discord.ui.Button[Any]], custom=STEER_BUTTON):
    def __init__(self, verb: str, run: str, suffix: str, *, disabled: bool = False) -> None:
        label, emoji, style = _BUTTONS[verb]
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=style,
                custom_id=self.custom.build(verb=verb, run=run, suffix=suffix),
                disabled=disabled,
            )
        )
        self.verb, self.run, self.suffix = verb, run, suffix

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        job_id = job_id_for(guild_id, self.suffix)
        as_host = await may_steer(interaction, job_id, self.run, self.verb)
        if self.verb in ("move", "shift"):
            await interaction.response.send_modal(steer_modal(self.verb, self.run, self.suffix))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs, by = interaction.client.jobs, interaction.user.id
        try:
            if self.verb == "run":
                status = await in_time(jobs.run_now(job_id, by=by, guild_id=guild_id, as_host=as_host))
                text = f"**{title(status)}** is running now."
            elif self.verb == "pause":
                status = await in_time(jobs.pause(job_id, by=by, guild_id=guild_id, as_host=as_host))
                left = format_human(status.paused_left or timedelta(0))
                text = f"Paused **{title(status)}** with {left} left: nothing is posted until it is resumed."
            else:
                status = await in_time(jobs.resume(job_id, by=by, guild_id=guild_id, as_host=as_host))
                text = f"Resumed **{title(status)}**: due {stamp(status.deadline)}."
        except SchedulingError as err:
            await interaction.followup.send(f"Nothing was changed: {err}.", ephemeral=True)
            return
        await interaction.followup.send(text, ephemeral=True)


def title(status: JobStatus) -> str:
    return status.description or status.action


def steer_modal(verb: str, run: str, suffix: str) -> discord.ui.Modal:
    custom_id = STEER_MODAL.build(verb=verb, run=run, suffix=suffix)
    if verb == "move":
        modal = discord.ui.Modal(title="Move this job", custom_id=custom_id, timeout=900)
        field: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id=WHEN_FIELD,
            placeholder="8pm, Friday 20:00, tomorrow 9am, 2026-12-24 18:00, in 2h",
            max_length=40,
        )
        modal.add_item(discord.ui.Label(text="New time (in your time zone)", component=field))
    else:
        modal = discord.ui.Modal(title="Move this job later or earlier", custom_id=custom_id, timeout=900)
        field = discord.ui.TextInput(custom_id=BY_FIELD, placeholder="+30m, -10m, +1d", max_length=20)
        modal.add_item(discord.ui.Label(text="By how much (- for earlier)", component=field))
    return modal


async def submit_steer(
    interaction: discord.Interaction[GameBot], *, verb: str, run: str, suffix: str
) -> None:
    """A Move or Later/earlier form, handled from the raw submission (works across restarts)."""
    guild_id = require_guild(interaction)
    job_id = job_id_for(guild_id, suffix)
    as_host = await may_steer(interaction, job_id, run, verb)  # the role may have changed meanwhile
    data: Mapping[str, Any] = interaction.data or {}
    values = modal_values(data.get("components") or [])
    bot, by = interaction.client, interaction.user.id
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        if verb == "move":
            now = bot.jobs.now()
            zone = await in_time(bot.time_zones.for_user(guild_id, by))
            at = parse_when(values.get(WHEN_FIELD, ""), zone, now, maximum=MAX_DELAY)
            status = await in_time(
                bot.jobs.reschedule(job_id, by=by, guild_id=guild_id, at=at, as_host=as_host)
            )
            text = f"Moved **{title(status)}** to {stamp(status.deadline)}."
        else:
            delta = parse_shift(values.get(BY_FIELD, ""))
            status = await in_time(bot.jobs.shift(job_id, delta, by=by, guild_id=guild_id, as_host=as_host))
            way = "later" if delta > timedelta(0) else "earlier"
            text = f"Moved **{title(status)}** {amount(abs(delta))} {way}: due {stamp(status.deadline)}."
    except (SchedulingError, TimeError) as err:
        await interaction.followup.send(f"Nothing was changed: {err}", ephemeral=True)
        return
    await interaction.followup.send(text, ephemeral=True)


def amount(delta: timedelta) -> str:
    """How far a job was moved: to the minute, or the seconds typed below one ("20s", not "less
    than a minute")."""
    return format_human(delta) if delta >= timedelta(minutes=1) else format_duration(delta)


def parse_shift(text: str) -> timedelta:
    """`+30m` or `30m` (later), `-10m` (earlier)."""
    cleaned = text.strip()
    earlier = cleaned.startswith("-")
    amount = parse_duration(cleaned.lstrip("+-"), maximum=MAX_DELAY)
    return -amount if earlier else amount


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (SteerSelect, SteerButton, ChangeJobButton)
