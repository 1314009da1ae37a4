"""A Custom Action's result as a Discord message, and the Run button's custom id.

The worker (a scheduled run, through a webhook) and the bot (a player's run) show a result the
same way: Components V2 when it has a card or is too long for content, plain content otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from workflows.custom_actions_models import Block

MAX_CONTENT = 2000
RUN_PREFIX = "ca:run:"


def run_custom_id(action_id: str) -> str:
    return f"{RUN_PREFIX}{action_id}"


def run_button(action_id: str, name: str) -> discord.ui.Button[Any]:
    """Posted by a host; answered by the bot's RunButton DynamicItem, even after a restart."""
    return discord.ui.Button(
        label=name[:80], emoji="▶️", style=discord.ButtonStyle.primary, custom_id=run_custom_id(action_id)
    )


@dataclass(frozen=True)
class ResultMessage:
    """Exactly one of `content` (plain) and `view` (Components V2, flag 1 << 15)."""

    content: str | None = None
    view: discord.ui.LayoutView | None = None


def result_message(header: str, blocks: list[Block]) -> ResultMessage:
    texts = [header, *(block.text for block in blocks)]
    content = "\n".join(text for text in texts if text)
    if not any(block.is_card for block in blocks) and len(content) <= MAX_CONTENT:
        return ResultMessage(content=content)
    view = discord.ui.LayoutView(timeout=None)
    if header:
        view.add_item(discord.ui.TextDisplay(header))
    for block in blocks:
        if block.is_card:
            container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=block.colour)
            container.add_item(discord.ui.TextDisplay(f"### {block.title}"))
            if block.text:
                container.add_item(discord.ui.TextDisplay(block.text))
            view.add_item(container)
        elif block.text:
            view.add_item(discord.ui.TextDisplay(block.text))
    return ResultMessage(view=view)
