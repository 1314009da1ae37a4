"""The one "When" field of a scheduling modal: a wait (`90m`, `in 2h`) or a time in the member's
own zone (`20:00`, `Friday 20:00`), read by `workflows.times.parse_when`.

A modal opened before a restart may still be a form with days, hours and minutes fields: its
submission has no When value, and those fields are read instead (field ids are a contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.checks import require_guild
from bot.replies import in_time
from components.jobs import WHEN_FIELD
from workflows.times import duration_from_fields, parse_when

if TYPE_CHECKING:
    from bot.app import GameBot

WHEN_PLACEHOLDER = "90m, in 2h, 20:00, 8pm, Friday 20:00"


def when_field(what: str = "When") -> discord.ui.Label[Any]:
    return discord.ui.Label(
        text=what,
        description="A wait, or a time in your time zone (/schedule my-timezone)",
        component=discord.ui.TextInput(custom_id=WHEN_FIELD, placeholder=WHEN_PLACEHOLDER, max_length=40),
    )


async def typed_wait(
    interaction: discord.Interaction[GameBot], values: Mapping[str, str], *, maximum: timedelta
) -> timedelta:
    """How long from now until what the member typed; a TimeError saying what is wrong.

    The zone is read only for a When value (a store that needs a worker), so after the
    interaction is acknowledged."""
    bot = interaction.client
    if WHEN_FIELD not in values:
        return duration_from_fields(
            days=values.get("days", ""),
            hours=values.get("hours", ""),
            minutes=values.get("minutes", ""),
            maximum=maximum,
        )
    guild_id = require_guild(interaction)
    now = bot.jobs.now()
    zone = await in_time(bot.time_zones.for_user(guild_id, interaction.user.id))
    return parse_when(values[WHEN_FIELD], zone, now, maximum=maximum, minimum=timedelta(minutes=1)) - now
