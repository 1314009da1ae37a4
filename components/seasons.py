"""The custom ids of the seasons' components, and the buttons on a turn's DM: Claim (posted with
the offer) and Submit (once it is claimed).

Posted by the worker, answered by the bot's DynamicItems, so they work after either restarts.
"""

from __future__ import annotations

from typing import Any, get_args

import discord

from components.custom_ids import CustomId, Field
from workflows.seasons_models import TURN_ID_PATTERN, TurnKind

# `turn-<guild>-<season start>-g<game>-s<step>-o<offer>`: everything the bot needs.
TURN = Field(TURN_ID_PATTERN)
KIND = Field("|".join(get_args(TurnKind)))

JOIN_BUTTON = CustomId("season:join")
CLAIM_BUTTON = CustomId("season:claim:{turn_id}", turn_id=TURN)
SUBMIT_BUTTON = CustomId("season:submit:{turn_id}:{kind}", turn_id=TURN, kind=KIND)
SUBMIT_MODAL = CustomId("season:modal:{turn_id}:{kind}", turn_id=TURN, kind=KIND)
# The modal's inputs: a modal opened before a restart comes back with them.
TEXT_FIELD, IMAGE_FIELD = "text", "image"


def claim_button(turn_id: str) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label="Claim",
        emoji="✋",
        style=discord.ButtonStyle.primary,
        custom_id=CLAIM_BUTTON.build(turn_id=turn_id),
    )


def submit_button(turn_id: str, kind: TurnKind) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label="Submit writing" if kind == "writing" else "Submit drawing",
        emoji="✍️" if kind == "writing" else "🎨",
        style=discord.ButtonStyle.success,
        custom_id=SUBMIT_BUTTON.build(turn_id=turn_id, kind=kind),
    )


def turn_view(*buttons: discord.ui.Button[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(button)
    return view
