"""A Custom Action's result as a Discord message, and the custom ids of the actions' components.

The worker (a scheduled run, through a webhook) and the bot (a player's run) show a result the
same way: Components V2 when it has a card or is too long for content, plain content otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from components.custom_ids import CustomId, Field
from components.jobs import RUN
from workflows.custom_actions_models import ACTION_ID_PATTERN, Block

MAX_CONTENT = 2000

ACTION = Field(ACTION_ID_PATTERN.removeprefix("^").removesuffix("$"))
MODE = Field("[ep]")  # a Cancel button on the editor ("e": redraw it) or on a player's answer ("p")
TASK = Field("ca:[A-Za-z0-9_.:-]{1,77}")  # the guild-local part of the task's job id

TRIGGER_SELECT = CustomId("ca:trigger:{action_id}", action_id=ACTION)
CHANNEL_SELECT = CustomId("ca:channel:{action_id}", action_id=ACTION)
SCHEDULE_BUTTON = CustomId("ca:schedule:{action_id}", action_id=ACTION)
RUN_BUTTON = CustomId("ca:run:{action_id}", action_id=ACTION)
# At most 4 + 1 + 1 + 8 + 1 + 80 = 95 characters.
CANCEL_TASK = CustomId("cac:{mode}:{run}:{suffix}", mode=MODE, run=RUN, suffix=TASK)
# Posted before buttons carried their run: still answered, on the current run.
EARLIER_CANCEL_TASK = CustomId("ca:cancel:{mode}:{suffix}", mode=MODE, suffix=TASK)
SCHEDULE_MODAL = CustomId("ca:schedule-modal:{action_id}", action_id=ACTION)
# The editor's Back button (as the original's), to the menu of the server's actions, whose
# select opens one's editor.
BACK_BUTTON = CustomId("ca:back")
OPEN_SELECT = CustomId("ca:open")
# The modal's inputs before its one When field (components.jobs.WHEN_FIELD): a modal opened
# before a restart comes back with these, read by bot/typed_when.py.
DAYS_FIELD, HOURS_FIELD, MINUTES_FIELD = "days", "hours", "minutes"


def run_button(action_id: str, name: str) -> discord.ui.Button[Any]:
    """Posted by a host; answered by the bot's RunButton DynamicItem, even after a restart."""
    return discord.ui.Button(
        label=name[:80],
        emoji="▶️",
        style=discord.ButtonStyle.primary,
        custom_id=RUN_BUTTON.build(action_id=action_id),
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
