"""Whispers (CastBot's whisperManager): a secret message kept in a Whisper workflow until its
recipient presses "Read Message".

    /whisper send  -> pick a user (user select) -> type the text (modal) -> "Whisper sent" (ephemeral)
    "Read Message" -> the recipient gets the text on an ephemeral card with a Reply button;
                      anyone else: "This whisper is not for you."
    /whisper toggle -> a host switches sending whispers on or off for the server

Every button and select is a `DynamicItem` and the modal is answered by the bot's modal router,
both keyed on custom ids (components/whispers.py), so all of it keeps working after the bot
restarts. The text is only ever in the modal submission and the recipient's ephemeral card:
never in a custom_id, a log line or a public message. The bot seals it with WHISPER_KEYS before
the workflow starts (stack/sealing.py) and opens it for the recipient; without that key it sends
no whisper, and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild, require_host
from bot.modals import modal_values
from bot.names import names_of
from bot.persistent import PersistentItem
from bot.replies import guarded, in_time, reply
from clients.guild_settings import WhispersSwitch
from clients.whispers import NO_KEY, WhisperError, Whispers
from components.whispers import (
    PICK_SELECT,
    READ_BUTTON,
    REPLY_BUTTON,
    SEND_MODAL,
    TEXT_FIELD,
    UNSEND_BUTTON,
    read_button,
)
from stack.sealing import whisper_seal
from workflows.whispers_models import TEXT_MAX, ReadResult

if TYPE_CHECKING:
    from bot.app import GameBot

log = logging.getLogger("bot.whispers")
T = TypeVar("T")

SWITCHED_OFF = "Whispers are switched off in this server."


def whisper_cog(interaction: discord.Interaction[Any]) -> WhispersCog:
    cog = interaction.client.get_cog(WhispersCog.__cog_name__)
    if not isinstance(cog, WhispersCog):
        raise RuntimeError("the whispers cog is not loaded")
    return cog


def send_modal(recipient_id: int, recipient_name: str) -> discord.ui.Modal:
    """The text of a whisper to `recipient_id` (named in the custom_id, so a restart loses nothing)."""
    modal = discord.ui.Modal(
        title=f"Whisper to {recipient_name}"[:45],
        custom_id=SEND_MODAL.build(recipient_id=recipient_id),
        timeout=900,
    )
    modal.add_item(
        discord.ui.Label(
            text="Your secret message",
            description="Only they can read it, once they press Read Message.",
            component=discord.ui.TextInput(
                custom_id=TEXT_FIELD,
                style=discord.TextStyle.paragraph,
                min_length=1,
                max_length=TEXT_MAX,
                required=True,
            ),
        )
    )
    return modal


def read_card(result: ReadResult) -> discord.ui.LayoutView:
    """The recipient's ephemeral card: the text, when it was sent/read, and a Reply button."""
    assert result.text is not None  # Whispers.read opened the seal
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.purple())
    container.add_item(discord.ui.TextDisplay(f"### 💬 Whisper from <@{result.sender_id}>"))
    container.add_item(discord.ui.TextDisplay(result.text))
    sent = discord.utils.format_dt(result.sent_at, "R")
    # What the card promises is what the notification's Read Message button does.
    again = (
        f" · Read Message opens it again until {discord.utils.format_dt(result.readable_until, 'f')}"
        if result.readable_until
        else ""
    )
    if result.already_read:
        first = discord.utils.format_dt(result.first_read_at, "R")
        footer = f"-# Already read (first opened {first}) · sent {sent}{again}"
    else:
        footer = f"-# Sent {sent}{again}"
    container.add_item(discord.ui.TextDisplay(footer))
    view.add_item(container)
    view.add_item(discord.ui.ActionRow(ReplyButton(result.sender_id)))
    return view


async def open_send_modal(
    interaction: discord.Interaction[GameBot], recipient_id: int, recipient: discord.abc.User | None
) -> None:
    """Checks that need no network first (3-second deadline); then the modal, or a reason."""
    guild_id = require_guild(interaction)
    if recipient_id == interaction.user.id:
        await reply(interaction, "You cannot whisper to yourself.")
        return
    if recipient is not None and recipient.bot:
        await reply(interaction, "Bots cannot read whispers.")
        return
    cog = whisper_cog(interaction)
    if not cog.whispers.can_send:
        await reply(interaction, NO_KEY)
        return
    if not await cog.enabled(guild_id):
        await reply(interaction, SWITCHED_OFF)
        return
    name = recipient.display_name if recipient is not None else "them"
    await interaction.response.send_modal(send_modal(recipient_id, name))


class PickRecipient(PersistentItem[discord.ui.UserSelect[Any]], custom=PICK_SELECT):
    """The user select of `/whisper send`."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.UserSelect(
                custom_id=self.custom.build(), placeholder="Who is it for?", min_values=1, max_values=1
            )
        )

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        if not self.item.values:
            await reply(interaction, "Pick someone to whisper to.")
            return
        recipient = self.item.values[0]
        await open_send_modal(interaction, recipient.id, recipient)


class ReadButton(PersistentItem[discord.ui.Button[Any]], custom=READ_BUTTON):
    """The "Read Message" button under a whisper's public notification (posted by the worker)."""

    def __init__(self, whisper_id: str) -> None:
        super().__init__(read_button(whisper_id))
        self.whisper_id = whisper_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        # The read is an update the worker answers: usually milliseconds, but acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        cog = whisper_cog(interaction)
        try:
            result = await cog.in_time(cog.whispers.read(self.whisper_id, reader_id=interaction.user.id))
        except WhisperError as err:
            await reply(interaction, str(err))
            return
        await interaction.followup.send(view=read_card(result), ephemeral=True)


class ReplyButton(PersistentItem[discord.ui.Button[Any]], custom=REPLY_BUTTON):
    """On the recipient's card: whisper back to the sender."""

    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Reply",
                emoji="↩️",
                style=discord.ButtonStyle.secondary,
                custom_id=self.custom.build(user_id=user_id),
            )
        )
        self.user_id = user_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        member = interaction.guild.get_member(self.user_id) if interaction.guild else None
        await open_send_modal(interaction, self.user_id, member)


class UnsendButton(PersistentItem[discord.ui.Button[Any]], custom=UNSEND_BUTTON):
    """On the sender's "Whisper sent" message: take it back before it is read."""

    def __init__(self, whisper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Unsend",
                emoji="🗑️",
                style=discord.ButtonStyle.danger,
                custom_id=self.custom.build(whisper_id=whisper_id),
            )
        )
        self.whisper_id = whisper_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await interaction.response.defer()
        cog = whisper_cog(interaction)
        try:
            await cog.in_time(cog.whispers.cancel(self.whisper_id, by=interaction.user.id))
        except WhisperError as err:
            await interaction.followup.send(str(err), ephemeral=True)
            return
        await interaction.edit_original_response(content="🗑️ Whisper unsent.", view=None)


class WhispersCog(commands.Cog, name="Whispers"):
    whisper = app_commands.Group(name="whisper", description="Secret messages", guild_only=True)

    def __init__(self, bot: GameBot, *, switch: WhispersSwitch | None = None) -> None:
        self.bot = bot
        self.whispers = Whispers(bot.temporal, bot.settings.temporal_task_queue, whisper_seal(bot.settings))
        if not self.whispers.can_send:
            log.warning("WHISPER_KEYS is not set: whispers cannot be sent (`make run` generates one)")
        # On unless a host switched it off; read through describe, so it needs no worker.
        self.switch = switch or WhispersSwitch(bot.guild_settings)

    async def in_time(self, call: Awaitable[T]) -> T:
        """`bot.replies.in_time`, as a method so a test can wrap the bot's wait."""
        return await in_time(call)

    async def enabled(self, guild_id: int) -> bool:
        return await self.switch.get(guild_id)

    @whisper.command(name="send", description="Send someone a secret message only they can read")
    @app_commands.describe(to="Who it is for (or pick them from a list)")
    async def send(self, interaction: discord.Interaction[GameBot], to: discord.Member | None = None) -> None:
        guild_id = require_guild(interaction)
        if to is not None:
            await open_send_modal(interaction, to.id, to)
            return
        if not self.whispers.can_send:
            await reply(interaction, NO_KEY)
            return
        if not await self.enabled(guild_id):
            await reply(interaction, SWITCHED_OFF)
            return
        view = discord.ui.View(timeout=None)
        view.add_item(PickRecipient())
        await interaction.response.send_message(
            "🤫 Who do you want to whisper to?", view=view, ephemeral=True
        )

    @whisper.command(name="toggle", description="Switch whispers on or off in this server (hosts)")
    @app_commands.describe(enabled="On or off; leave empty to switch")
    async def toggle(self, interaction: discord.Interaction[GameBot], enabled: bool | None = None) -> None:
        guild_id = await require_host(interaction, "switch whispers on or off")
        # The switch is a store update that waits for a worker: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        if enabled is None:
            enabled = not await self.enabled(guild_id)
        await self.in_time(self.switch.set(guild_id, enabled))
        await reply(
            interaction, "🤫 Whispers are now **on** in this server." if enabled else f"🔇 {SWITCHED_OFF}"
        )

    async def submit(self, interaction: discord.Interaction[GameBot], recipient_id: int) -> None:
        """The modal's submission, handled from the raw data so it works across restarts."""
        guild_id, channel_id = require_guild(interaction), interaction.channel_id
        assert channel_id is not None  # every guild interaction has a channel
        if not await self.enabled(guild_id):
            await reply(interaction, f"Nothing was sent. {SWITCHED_OFF}")
            return
        data: Mapping[str, Any] = interaction.data or {}
        text = modal_values(data.get("components") or []).get(TEXT_FIELD, "")
        try:
            # Starting a workflow does not wait for a worker: milliseconds, so no defer is needed.
            whisper_id = await self.whispers.send(
                guild_id=guild_id,
                channel_id=channel_id,
                sender_id=interaction.user.id,
                recipient_id=recipient_id,
                text=text,
                names=names_of(interaction),
            )
        except WhisperError as err:
            await reply(interaction, f"Nothing was sent: {err}")
            return
        view = discord.ui.View(timeout=None)
        view.add_item(UnsendButton(whisper_id))
        await interaction.response.send_message(
            f"🤫 Whisper sent to <@{recipient_id}>. They will see a **Read Message** button in this channel.",
            view=view,
            ephemeral=True,
        )


async def setup(bot: GameBot) -> None:
    bot.add_dynamic_items(PickRecipient, ReadButton, ReplyButton, UnsendButton)
    cog = WhispersCog(bot)
    bot.modals.add(SEND_MODAL, cog.submit)
    await bot.add_cog(cog)
