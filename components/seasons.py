"""The buttons on a turn's DM: Claim (posted with the offer) and Submit (once it is claimed).

Posted by the worker, answered by the bot's DynamicItems, so they work after either restarts.
"""

from __future__ import annotations

from typing import Any

import discord

from workflows.seasons_models import TurnKind, claim_custom_id, submit_custom_id


def claim_button(turn_id: str) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label="Claim", emoji="✋", style=discord.ButtonStyle.primary, custom_id=claim_custom_id(turn_id)
    )


def submit_button(turn_id: str, kind: TurnKind) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label="Submit writing" if kind == "writing" else "Submit drawing",
        emoji="✍️" if kind == "writing" else "🎨",
        style=discord.ButtonStyle.success,
        custom_id=submit_custom_id(turn_id, kind),
    )


def turn_view(*buttons: discord.ui.Button[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(button)
    return view
