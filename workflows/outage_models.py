"""What an outage summary gathers: the jobs of one server that ran late, were missed or failed.

A job that ends that way reports itself to its server's summary (`outage-<guild>`, started by the
first report, signal-with-start); the summary waits until QUIET passes with no new report, then
posts once, to the server's log channel (the guild setting LOG_CHANNEL) or else to the host's DMs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from workflows.common import Snowflake

OUTAGE_WORKFLOW = "OutageSummary"
# The signal a job sends (with start) to its server's summary.
OUTAGE_REPORT_SIGNAL = "report"
# Activities: the job's report (it signals-with-start the summary), and the summary's one post.
REPORT_OUTAGE = "report_to_outage_summary"
POST_OUTAGE_SUMMARY = "post_outage_summary"
# The guild setting naming the channel where the bot tells the server what happened.
LOG_CHANNEL = "log_channel"
# A summary is posted once this long passes with no new report: an outage's jobs come back
# within seconds of each other, so one outage makes one summary.
QUIET = timedelta(minutes=2)
# Entries listed in one post (the rest are counted).
LISTED = 15

OutageKind = Literal["late", "missed", "failed"]


def outage_id_for(guild_id: int) -> str:
    return f"outage-{guild_id}"


class OutageEntry(BaseModel):
    job_id: str
    run_id: str
    guild_id: Snowflake
    scheduled_by: Snowflake
    description: str | None = None
    kind: OutageKind
    due: datetime
    # When it ran or was given up; the reason is the job's own (a failure, the late window).
    at: datetime
    reason: str | None = Field(default=None, max_length=500)


class OutageInput(BaseModel):
    guild_id: Snowflake
    entries: list[OutageEntry] = Field(default_factory=list)


class OutageSummary(BaseModel):
    guild_id: Snowflake
    entries: list[OutageEntry]
