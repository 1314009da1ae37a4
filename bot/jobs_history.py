"""`/schedule history`: the guild's past jobs the viewer may see, newest first, paged, with
their outcome and why, how late they ran, their reminders, and Retry on a failed or missed one
(for hosts: see bot/jobs_retry.py).

Read from visibility and each run's close event (clients/jobs_history.py): no worker needed,
so it answers while the worker is stopped too. Channels are filtered as `/schedule list` does
(`bot.cogs.jobs.channel_filter`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord.utils import format_dt

from bot.checks import require_guild
from bot.jobs_retry import RetryButton
from bot.jobs_ui import job_title
from bot.persistent import PersistentItem
from bot.replies import guarded
from clients.jobs_history import HISTORY_REACH, HistoryPage, PastJob, history_query, page_history
from components.jobs import HISTORY_PAGE
from workflows.common import UserError
from workflows.jobs_actions import ACTIONS, action_label
from workflows.jobs_models import job_suffix, run_tag
from workflows.times import format_human

if TYPE_CHECKING:
    from bot.app import GameBot

HISTORY_SIZE = 5
ICONS = {"done": "✅", "failed": "❌", "cancelled": "🚫", "missed": "⏭️"}
RETRYABLE = ("failed", "missed")


def past_line(job: PastJob) -> str:
    title = job_title(job.description, job.action)
    kind = action_label(job.action)
    kind = "" if kind.lower() in title.lower() else f" · {kind.lower()}"
    lines = [f"{ICONS.get(job.outcome, '•')} **{title}**{kind} in <#{job.channel_id}> · {job.outcome}"]
    when = []
    if job.due is not None:
        when.append(f"due {format_dt(job.due, 'f')}")
    if job.ran is not None:
        late = job.late
        when.append(f"ran {format_dt(job.ran, 'f')}" + (f", {format_human(late)} late" if late else ""))
    elif job.closed is not None:
        when.append(f"closed {format_dt(job.closed, 'f')}")
    if when:
        lines.append(" · ".join(when))
    if job.cancelled_by is not None:
        lines.append(f"cancelled by <@{job.cancelled_by}>" + (f": {job.reason}" if job.reason else ""))
    elif job.operator is not None:
        lines.append(f"cancelled by {job.operator}" + (f": {job.reason}" if job.reason else ""))
    elif job.reason:
        lines.append(f"why: {job.reason}")
    if job.sent or job.not_sent:
        reminders = f"reminders: {job.sent} posted"
        if job.not_sent:
            # One reason once: "1h, 10m (the job was run early…)", not the reason for each.
            grouped: dict[str, list[str]] = {}
            for message, why in job.not_sent:
                grouped.setdefault(why, []).append(message)
            reminders += ", not posted: " + "; ".join(f"{', '.join(m)} ({why})" for why, m in grouped.items())
        lines.append(reminders)
    lines.append(f"scheduled by <@{job.scheduled_by}>")
    return "\n".join(lines)[:1000]


def history_view(
    listed: HistoryPage, *, outcome: str, channel: str, action: str, as_host: bool, guild_id: int
) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.dark_grey())
    pages = f" · page {listed.page + 1} of {listed.pages}" if listed.pages > 1 else ""
    container.add_item(
        discord.ui.TextDisplay(
            f"### 📜 Past jobs in this server\n{listed.total} in the last {HISTORY_REACH.days} days{pages}"
        )
    )
    if not listed.jobs:
        container.add_item(discord.ui.TextDisplay("Nothing has run here yet."))
    for job in listed.jobs:
        if as_host and job.outcome in RETRYABLE:
            button = RetryButton(run_tag(job.run_id), job_suffix(job.job_id, guild_id))
            container.add_item(discord.ui.Section(discord.ui.TextDisplay(past_line(job)), accessory=button))
        else:
            container.add_item(discord.ui.TextDisplay(past_line(job)))
    view.add_item(container)
    page = listed.page
    view.add_item(
        discord.ui.ActionRow(
            HistoryPageButton(
                max(page - 1, 0), "p", disabled=page == 0, outcome=outcome, channel=channel, action=action
            ),
            HistoryPageButton(page, "r", outcome=outcome, channel=channel, action=action),
            HistoryPageButton(
                min(page + 1, listed.pages - 1),
                "n",
                disabled=page >= listed.pages - 1,
                outcome=outcome,
                channel=channel,
                action=action,
            ),
        )
    )
    return view


async def render_history(
    interaction: discord.Interaction[GameBot],
    page: int,
    *,
    outcome: str = "",
    channel: str = "",
    action: str = "",
) -> discord.ui.LayoutView:
    """The page of the history this viewer may see (call after the interaction is acknowledged)."""
    from bot.cogs.jobs import channel_filter

    guild_id = require_guild(interaction)
    bot = interaction.client
    as_host = await bot.hosts.is_host(interaction)
    channels, hidden = channel_filter(interaction, as_host)
    query = history_query(
        guild_id,
        outcome=outcome or None,
        action=action or None,
        channel_id=int(channel) if channel else None,
        channels=channels,
        hidden_channels=hidden,
    )
    listed = await page_history(bot.temporal, query, page=page, size=HISTORY_SIZE)
    return history_view(
        listed, outcome=outcome, channel=channel, action=action, as_host=as_host, guild_id=guild_id
    )


_LABELS = {"p": ("Previous", "◀️"), "n": ("Next", "▶️"), "r": ("Refresh", "🔄")}


class HistoryPageButton(PersistentItem[discord.ui.Button[Any]], custom=HISTORY_PAGE):
    def __init__(
        self,
        page: int,
        direction: str,
        *,
        outcome: str,
        channel: str,
        action: str,
        disabled: bool = False,
    ) -> None:
        label, emoji = _LABELS[direction]
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=self.custom.build(
                    direction=direction, page=page, outcome=outcome, channel=channel, action=action
                ),
                disabled=disabled,
            )
        )
        self.page = page
        self.filters = {"outcome": outcome, "channel": channel, "action": action}

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        require_guild(interaction)
        await interaction.response.defer()
        view = await render_history(interaction, self.page, **self.filters)
        await interaction.edit_original_response(view=view)


async def show_history(
    interaction: discord.Interaction[GameBot],
    *,
    outcome: str | None,
    channel: discord.TextChannel | None,
    action: str | None,
) -> None:
    """`/schedule history`: the first page, filtered."""
    require_guild(interaction)
    if action:
        # Typed as the listings name it ("Safari round results"), or by its name in code.
        kinds = {name: spec for name, spec in ACTIONS.items() if not spec.reminder}
        typed = " ".join(action.split()).lower()
        found = [name for name in kinds if typed in (name, action_label(name).lower())]
        if not found:
            known = ", ".join(sorted(action_label(name) for name in kinds))
            raise UserError(f"there is no action by that name here; the actions are: {known}")
        action = found[0]
    await interaction.response.defer(ephemeral=True, thinking=True)
    view = await render_history(
        interaction, 0, outcome=outcome or "", channel=str(channel.id) if channel else "", action=action or ""
    )
    await interaction.followup.send(view=view, ephemeral=True)


HISTORY_ITEMS = (HistoryPageButton, RetryButton)
