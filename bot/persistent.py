"""The one base of the bot's DynamicItems: each declares its custom id once, as a `CustomId`
from components/, and is rebuilt from a click by that id's fields.

    class ReplyButton(PersistentItem[discord.ui.Button[Any]], custom=REPLY_BUTTON):
        def __init__(self, user_id: int) -> None:   # the id's fields are the arguments
            super().__init__(discord.ui.Button(label="Reply", custom_id=self.custom.build(user_id=user_id)))

discord.py answers a click on any message, before or after a restart, by matching the id against
`custom.template` and calling the class with `custom.parse(match)` as keyword arguments.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, ClassVar, Self, TypeVar

import discord

from components.custom_ids import CustomId

ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])

NEVER = r"(?!)"  # the base itself answers no id


class PersistentItem(discord.ui.DynamicItem[ItemT], template=NEVER):
    custom: ClassVar[CustomId]

    def __init_subclass__(cls, *, custom: CustomId | None = None) -> None:
        custom = custom or getattr(cls, "custom", None)  # a subclass may keep its parent's id
        super().__init_subclass__(template=custom.template if custom else NEVER)
        if custom is not None:
            cls.custom = custom

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(**cls.custom.parse(match))


UNMATCHED = (
    "This button no longer works: what it belonged to is gone or has changed. "
    "Run the command again for a fresh one."
)


def handled_by_discord_py(
    client: discord.Client, component_type: int, custom_id: str, message_id: int | None
) -> bool:
    """Whether discord.py's own dispatch answers this click: a registered DynamicItem's template,
    or an item of a view it keeps for this message (or for any message)."""
    store = client._connection._view_store
    if any(pattern.fullmatch(custom_id) for pattern in store._dynamic_items):
        return True
    key = (component_type, custom_id)
    return any(key in store._views.get(place, {}) for place in (message_id, None))


async def answer_unmatched(interaction: discord.Interaction[Any]) -> None:
    """The bot's listener for clicks and selects no item answers: a button left on a message by
    a feature that is gone, or a view that expired. Those discord.py dispatches are left to it."""
    if interaction.type is not discord.InteractionType.component:
        return
    data: Any = interaction.data or {}
    custom_id, kind = str(data.get("custom_id", "")), int(data.get("component_type", 0))
    message_id = interaction.message.id if interaction.message else None
    if handled_by_discord_py(interaction.client, kind, custom_id, message_id):
        return
    if interaction.response.is_done():
        return
    # The token may have expired: there is nothing more to tell then.
    with contextlib.suppress(discord.HTTPException):
        await interaction.response.send_message(UNMATCHED, ephemeral=True)
