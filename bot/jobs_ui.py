"""The jobs feature's UI API: the line that describes a job, its persistent Cancel button, and
the listings (`JobListings`, one per bot) that such a button redraws after a cancel.

Buttons are `DynamicItem`s: the custom_id carries everything the click needs (which listing
to redraw, the page, the job), so a message posted before a restart still works after it.
The job id is never trusted from the custom_id alone: only its guild-local part is carried,
and the click's own guild completes it, so a button cannot reach another guild's job.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord

from bot.checks import require_guild
from bot.persistent import PersistentItem
from bot.replies import guarded, in_time
from clients.jobs import SchedulingError, format_remaining
from clients.jobs_listing import JobSummary
from clients.repeats import RepeatInfo
from components.jobs import CANCEL_JOB, EARLIER_CANCEL_JOB
from workflows.jobs_actions import action_label
from workflows.jobs_models import job_id_for, job_suffix, run_tag
from workflows.times import format_human

if TYPE_CHECKING:
    from bot.app import GameBot

# Sections of three components each: 1 container + 1 header + 6 x 3 + 1 row + 3 buttons = 24 of 40.
PAGE_SIZE = 6

# A listing that can redraw itself after a cancel: (interaction, page, ids to leave out) -> view.
Renderer = Callable[["discord.Interaction[GameBot]", int, Collection[str]], Awaitable[discord.ui.LayoutView]]


class JobListings:
    """The bot's job listings, each under the one-letter code its Cancel buttons carry. The bot
    holds one (`GameBot.job_listings`); each cog adds its listing when it is loaded."""

    def __init__(self) -> None:
        self._renderers: dict[str, Renderer] = {}

    def add(self, code: str, renderer: Renderer) -> None:
        if not re.fullmatch(r"[a-z]", code):
            raise ValueError("a listing code is one lower-case letter")
        known = self._renderers.get(code)
        # A cog loaded again replaces its own listing; two cogs never share a code.
        if known is not None and known.__module__ != renderer.__module__:
            raise ValueError(f"the listing code {code!r} is taken by {known.__module__}")
        self._renderers[code] = renderer

    def get(self, code: str) -> Renderer | None:
        return self._renderers.get(code)


def remaining_text(deadline: datetime, now: datetime | None = None) -> str:
    """The time left, as of now: for a reply read at once. A message read later (a listing, a
    panel) says `countdown` instead, which Discord keeps true as it is read."""
    left = format_remaining(deadline, now)
    return left if left == "due now" else f"{left} left"


def due_text(job: JobSummary) -> str:
    """When a listed job is due, or, paused, the time it keeps for when it is resumed."""
    if job.paused_left is not None:
        return f"⏸️ paused, {format_human(job.paused_left)} left"
    return f"due {discord.utils.format_dt(job.deadline, 'f')} ({countdown(job.deadline)})"


def countdown(deadline: datetime) -> str:
    """ "in 35 minutes", counted down by each reader's Discord: a posted "35m left" would still
    say so half an hour later."""
    return discord.utils.format_dt(deadline, "R")


def job_title(description: str, action: str) -> str:
    """What a job is called where people read it: its description, else its action in words."""
    return description or action_label(action)


def job_line(job: JobSummary) -> str:
    label = action_label(job.action)
    title = job_title(job.description, job.action)
    kind = "" if label.lower() in title.lower() else f" · {label.lower()}"
    return f"**{title}**{kind} in <#{job.channel_id}>\n{due_text(job)} · by <@{job.scheduled_by}>"


def repeats_text(repeats: Sequence[RepeatInfo], more: int, *, as_host: bool) -> str:
    """The listing's repeats: a repeat's occurrence is a job only from its first reminder (or its
    post) on, so without these a server with a weekly quiz read "Nothing is scheduled"."""
    lines = ["### 🔁 Repeats"]
    for repeat in repeats:
        what = repeat.description or "A repeat"
        where = f" in <#{repeat.channel_id}>" if repeat.channel_id else ""
        if repeat.paused:
            when = "⏸️ paused"
        elif repeat.next_times:
            when = f"next {discord.utils.format_dt(repeat.next_times[0], 'R')}"
        else:
            when = "no time left"
        lines.append(f"**{what}**{where}\n{repeat.every} ({repeat.zone}) · {when} · `{repeat.name}`")
    if more:
        lines.append(f"and {more} more (`/schedule repeat` names them all)")
    if as_host:
        lines.append("-# Pause, skip, change or end one with `/schedule repeat`.")
    return "\n".join(lines)


class CancelJobButton(PersistentItem[discord.ui.Button[Any]], custom=CANCEL_JOB):
    """Cancel one job, the run it was listed with only (`run`: its `run_tag`; a keyed
    job's id is reused by its next run, which an old button must not cancel)."""

    def __init__(self, view: str, page: int, suffix: str, run: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel",
                emoji="🗑️",
                style=discord.ButtonStyle.danger,
                custom_id=self.custom.build(view=view, page=page, suffix=suffix, run=run),
            )
        )
        self.view_code = view
        self.page = page
        self.suffix = suffix
        self.run = run

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await cancel_job(interaction, self.suffix, view_code=self.view_code, page=self.page, run=self.run)


class EarlierCancelJobButton(CancelJobButton, custom=EARLIER_CANCEL_JOB):
    """A Cancel button posted before buttons carried their run: it still works, on the current run."""


async def cancel_job(
    interaction: discord.Interaction[GameBot], suffix: str, *, view_code: str, page: int, run: str = ""
) -> None:
    """Cancel one job of the clicking user's guild (of this run, if given), then redraw the
    listing the button was on."""
    guild_id = require_guild(interaction)
    bot = interaction.client
    job_id = job_id_for(guild_id, suffix)
    # The cancel is an update that waits for a worker: acknowledge first (within 3 s), and if no
    # worker answers in time, say so and promise nothing (in_time's NotAnswered).
    await interaction.response.defer()
    as_host = await bot.hosts.is_host(interaction)
    try:
        status = await in_time(
            bot.jobs.cancel(
                job_id,
                by=interaction.user.id,
                guild_id=guild_id,
                as_host=as_host,
                reason="cancelled in Discord",
                run=run,
            )
        )
    except SchedulingError as err:
        await interaction.followup.send(f"Nothing was cancelled: {err}.", ephemeral=True)
        return
    await bot.live_listings.changed(guild_id, exclude={job_id})  # posted panels that listed it
    renderer = bot.job_listings.get(view_code)
    if renderer is not None:
        await interaction.edit_original_response(view=await renderer(interaction, page, {job_id}))
    title = job_title(status.description, status.action)
    await interaction.followup.send(
        f"Cancelled **{title}** (it was due {discord.utils.format_dt(status.deadline, 'F')}).", ephemeral=True
    )


def job_section(
    job: JobSummary, view_code: str, page: int, *, may_cancel: bool = True
) -> discord.ui.Item[Any]:
    """The job's line, with a Cancel button only for a viewer who may cancel it."""
    if not may_cancel:
        return discord.ui.TextDisplay(job_line(job))
    suffix = job_suffix(job.job_id, job.guild_id)
    button = CancelJobButton(view_code, page, suffix, run_tag(job.run_id))
    return discord.ui.Section(job_line(job), accessory=button)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (CancelJobButton, EarlierCancelJobButton)
