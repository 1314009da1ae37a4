"""The "Read Message" button under a whisper's public notification."""

from __future__ import annotations

from typing import Any

import discord

from workflows.whispers_models import read_custom_id


def read_button(whisper_id: str) -> discord.ui.Button[Any]:
    """Posted by the worker, answered by the bot's `ReadButton` DynamicItem (even after a restart)."""
    return discord.ui.Button(
        label="Read Message",
        emoji="📩",
        style=discord.ButtonStyle.primary,
        custom_id=read_custom_id(whisper_id),
    )
