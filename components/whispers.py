"""The custom ids of the whisper components, and the "Read Message" button under a whisper's
public notification (posted by the worker, answered by the bot)."""

from __future__ import annotations

from typing import Any

import discord

from components.custom_ids import CustomId, Field
from workflows.whispers_models import ID_PATTERN

# Only ids the bot would start (`whisper-<guild>-<sender>-<hex>`) are accepted from a button.
WHISPER = Field(ID_PATTERN)
USER = Field("[0-9]{1,20}", number=True)

PICK_SELECT = CustomId("whisper:pick")
READ_BUTTON = CustomId("whisper:read:{whisper_id}", whisper_id=WHISPER)
REPLY_BUTTON = CustomId("whisper:reply:{user_id}", user_id=USER)
UNSEND_BUTTON = CustomId("whisper:unsend:{whisper_id}", whisper_id=WHISPER)
SEND_MODAL = CustomId("whisper:send:{recipient_id}", recipient_id=USER)
# The modal's input: a modal opened before a restart comes back with it.
TEXT_FIELD = "text"


def read_button(whisper_id: str) -> discord.ui.Button[Any]:
    """Posted by the worker, answered by the bot's `ReadButton` DynamicItem (even after a restart)."""
    return discord.ui.Button(
        label="Read Message",
        emoji="📩",
        style=discord.ButtonStyle.primary,
        custom_id=READ_BUTTON.build(whisper_id=whisper_id),
    )
