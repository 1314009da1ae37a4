"""The outage summary's activities: a job reports itself to its server's summary, and the summary
posts once (workflows/outage.py).

The post goes to the server's log channel (`/schedule log-channel`, clients/guild_settings.py),
or, with none set or one the bot may no longer post in, to the DMs of the host who scheduled the
first job listed.
Missed and failed jobs carry a Retry button (bot/jobs_retry.py answers it).
"""

from __future__ import annotations

from typing import Any

import discord
from discord.utils import format_dt
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from activities.discord_rest import activity_nonce, discord_errors, require_login
from clients.guild_settings import LogChannel, SettingsBackend
from components.jobs import RETRY_JOB
from workflows.jobs_models import job_suffix, run_tag
from workflows.outage_models import (
    LISTED,
    OUTAGE_REPORT_SIGNAL,
    OUTAGE_WORKFLOW,
    POST_OUTAGE_SUMMARY,
    REPORT_OUTAGE,
    OutageEntry,
    OutageInput,
    OutageSummary,
    outage_id_for,
)

HEADS = {"late": "⏱️ ran late", "missed": "⏭️ missed", "failed": "⚠️ failed"}
# Discord allows 5 rows of 5 buttons.
MAX_RETRY_BUTTONS = 25


def summary_text(summary: OutageSummary) -> str:
    entries = summary.entries
    counts = ", ".join(
        f"{sum(e.kind == kind for e in entries)} {HEADS[kind].split(' ', 1)[1]}"
        for kind in ("late", "missed", "failed")
        if any(e.kind == kind for e in entries)
    )
    lines = [f"### 🧾 While the bot was away\n{counts}."]
    for entry in entries[:LISTED]:
        what = entry.description or "Scheduled job"
        line = f"- {HEADS[entry.kind]}: **{what}**, due {format_dt(entry.due, 'f')}"
        if entry.kind == "late":
            line += f", ran {format_dt(entry.at, 't')}"
        if entry.kind == "failed" and entry.reason:
            line += f" ({entry.reason[:150]})"
        lines.append(line)
    if len(entries) > LISTED:
        lines.append(f"…and {len(entries) - LISTED} more: `/schedule history` lists them all.")
    if any(e.kind != "late" for e in entries):
        lines.append("Retry runs a missed or failed job now (hosts).")
    return "\n".join(lines)[:2000]


def retry_view(summary: OutageSummary) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    retryable = [e for e in summary.entries if e.kind != "late"][:MAX_RETRY_BUTTONS]
    for number, entry in enumerate(retryable, start=1):
        label = f"Retry {number}: {entry.description or 'job'}"[:80]
        custom_id = RETRY_JOB.build(
            run=run_tag(entry.run_id), suffix=job_suffix(entry.job_id, entry.guild_id)
        )
        view.add_item(discord.ui.Button(label=label, emoji="🔁", custom_id=custom_id))
    return view


class OutageActivities:
    def __init__(self, discord_client: discord.Client, temporal: Client, settings: SettingsBackend) -> None:
        self._discord = discord_client
        self._temporal = temporal
        self._log_channel = LogChannel(settings)

    @activity.defn(name=REPORT_OUTAGE)
    async def report(self, entry: OutageEntry) -> None:
        """Signal the server's summary, starting it if none is gathering."""
        info = activity.info()
        await self._temporal.start_workflow(
            OUTAGE_WORKFLOW,
            OutageInput(guild_id=entry.guild_id),
            id=outage_id_for(entry.guild_id),
            task_queue=info.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=OUTAGE_REPORT_SIGNAL,
            start_signal_args=[entry],
            static_summary=f"outage summary for guild {entry.guild_id}",
        )

    @activity.defn(name=POST_OUTAGE_SUMMARY)
    async def post(self, summary: OutageSummary) -> dict[str, str]:
        require_login(self._discord)
        text, view = summary_text(summary), retry_view(summary)
        channel = await self._log_channel.get(summary.guild_id)
        if channel is not None:
            try:
                return await self._send(channel, text, view)
            except ApplicationError as err:
                if not err.non_retryable:
                    raise  # Discord is away again: try later, still to the log channel
        with discord_errors():
            dm = await self._discord.http.start_private_message(summary.entries[0].scheduled_by)
        return await self._send(int(dm["id"]), text, view)

    async def _send(self, channel_id: int, text: str, view: discord.ui.View) -> dict[str, str]:
        channel = self._discord.get_partial_messageable(channel_id)
        with discord_errors():
            message = await channel.send(
                text, view=view, nonce=activity_nonce(), allowed_mentions=discord.AllowedMentions.none()
            )
        return {"message_id": str(message.id)}

    def all(self) -> list[Any]:
        return [self.report, self.post]
