"""The one base of the bot's DynamicItems: each declares its custom id once, as a `CustomId`
from components/, and is rebuilt from a click by that id's fields.

    class ReplyButton(PersistentItem[discord.ui.Button[Any]], custom=REPLY_BUTTON):
        def __init__(self, user_id: int) -> None:   # the id's fields are the arguments
            super().__init__(discord.ui.Button(label="Reply", custom_id=self.custom.build(user_id=user_id)))

discord.py answers a click on any message, before or after a restart, by matching the id against
`custom.template` and calling the class with `custom.parse(match)` as keyword arguments.
"""

from __future__ import annotations

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
