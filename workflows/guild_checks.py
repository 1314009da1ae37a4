"""What a workflow asks Discord before it acts for someone: whether a channel is in the guild a
request is for, and whether a member is a host there (the server's owner, Administrator or Manage
Roles, or the guild's host role). The bot checks too, but a client's caller could claim anything;
these answers come from Discord and the guild's settings, through the `check_guild` activity.

Deterministic helpers only: the activity is `activities/guild_checks.py`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

from workflows.common import Snowflake

CHECK_GUILD = "check_guild"
CHECK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
CHECK_BUDGET = timedelta(seconds=20)


class GuildQuery(BaseModel):
    guild_id: Snowflake
    # Whose host rights to look up (None: nobody's).
    user_id: Snowflake | None = None
    # Which channel's guild to look up (None: none).
    channel_id: Snowflake | None = None


class GuildFacts(BaseModel):
    # The guild the channel is in; None when Discord knows no such channel or it is a DM.
    channel_guild: Snowflake | None = None
    # Whether `user_id` is a host of `guild_id`.
    host: bool = False


async def ask_discord(query: GuildQuery) -> GuildFacts | None:
    """Discord's answer, or None when it could not be had in CHECK_BUDGET (an outage)."""
    try:
        facts: GuildFacts = await workflow.execute_local_activity(
            CHECK_GUILD,
            query,
            result_type=GuildFacts,
            start_to_close_timeout=CHECK_BUDGET,
            schedule_to_close_timeout=CHECK_BUDGET,
            retry_policy=CHECK_RETRY,
            summary=CHECK_GUILD,
        )
    except FailureError as err:
        workflow.logger.warning("could not ask Discord about guild %s: %s", query.guild_id, err)
        return None
    return facts


def other_guild_channel(channel_id: int) -> str:
    """The refusal for a channel Discord places in another server."""
    return f"The channel <#{channel_id}> is not in this server, so nothing was posted there."


def not_a_host(what: str) -> str:
    return f"Only a host of this server (Manage Roles, or its host role) can {what}."
