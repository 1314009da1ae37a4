"""Modal submissions: one router from a modal's custom id to its handler, and reading what a
user typed.

A modal is answered from the raw submission, not by the `discord.ui.Modal` object that opened
it, so a modal opened before a restart is handled after it. Each feature adds its modals'
`CustomId`s with their handlers (`bot.modals.add(SCHEDULE_MODAL, cog.submit_schedule)`); the
handler gets the interaction and the id's fields as keyword arguments. Every submission is
answered: an id no handler knows, and a handler that raises, go to the one error path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import discord

from bot.replies import reply, report_error
from components.custom_ids import CustomId

log = logging.getLogger("bot.modals")

# (interaction, **the id's fields)
ModalHandler = Callable[..., Awaitable[None]]
UNKNOWN_MODAL = "This form can no longer be sent. Please open it again."


class ModalRouter:
    def __init__(self) -> None:
        self._routes: dict[str, tuple[CustomId, ModalHandler]] = {}

    def add(self, custom: CustomId, handler: ModalHandler) -> None:
        """Route submissions of `custom` to `handler` (a feature loaded again replaces its own)."""
        self._routes[custom.template] = (custom, handler)

    def remove(self, custom: CustomId) -> None:
        self._routes.pop(custom.template, None)

    def find(self, custom_id: str) -> tuple[ModalHandler, dict[str, Any]] | None:
        """The handler of a modal's custom id, and the values the id carries."""
        for custom, handler in self._routes.values():
            values = custom.match(custom_id)
            if values is not None:
                return handler, values
        return None

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """The bot's one listener for modal submissions."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Mapping[str, Any] = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        try:
            found = self.find(custom_id)
            if found is None:
                log.warning("modal %r of interaction %s has no handler", custom_id, interaction.id)
                await reply(interaction, UNKNOWN_MODAL)
                return
            handler, values = found
            await handler(interaction, **values)
        except Exception as error:
            await report_error(interaction, error)


def modal_values(components: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Text input values by custom_id from a modal submission (action rows or labels)."""
    values: dict[str, str] = {}
    for component in components:
        if "value" in component and "custom_id" in component:
            values[str(component["custom_id"])] = str(component["value"] or "")
        children = list(component.get("components") or [])
        if component.get("component"):
            children.append(component["component"])
        values.update(modal_values(children))
    return values
