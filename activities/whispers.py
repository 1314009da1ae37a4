"""The whisper's side effects: the public notification with its "Read Message" button, its edit
or removal, and DMs to the sender. None of them ever sees the whisper's text."""

from __future__ import annotations

import discord
from discord.http import handle_message_parameters
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import activity_nonce, already_gone, discord_errors, require_login
from components.whispers import read_button
from workflows.whispers_models import (
    BAD_WHISPER_ID,
    DELETE_NOTIFICATION,
    DM_SENDER,
    EDIT_NOTIFICATION,
    NOT_IN_SERVER,
    POST_NOTIFICATION,
    NotificationEdit,
    NotificationInput,
    PostedNotification,
    SenderNotice,
)


def notification_text(notice: NotificationInput) -> str:
    return f"💬 <@{notice.sender_id}> whispers to <@{notice.recipient_id}>"


def read_button_view(whisper_id: str) -> discord.ui.View:
    """The "Read Message" button; the bot's DynamicItem answers it (even after a restart)."""
    view = discord.ui.View(timeout=None)
    view.add_item(read_button(whisper_id))
    return view


class WhisperActivities:
    def __init__(self, client: discord.Client) -> None:
        self._client = client

    @activity.defn(name=POST_NOTIFICATION)
    async def post_notification(self, notice: NotificationInput) -> PostedNotification:
        try:
            view = read_button_view(notice.whisper_id)
        except ValueError:
            # No retry can make this id a whisper id: fail the whisper now, not in an hour.
            reason = f"not a whisper id: {notice.whisper_id!r}"
            raise ApplicationError(reason, type=BAD_WHISPER_ID, non_retryable=True) from None
        require_login(self._client)
        await self._check_channel(notice)
        # The raw call, not `channel.send(view=...)`: that would keep every button's view in
        # this worker's memory for good, and only the bot answers these buttons.
        params = handle_message_parameters(
            content=notification_text(notice),
            view=view,
            nonce=activity_nonce(),
            # Ping the recipient only, never the sender, a role or everyone.
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(notice.recipient_id)]
            ),
        )
        with params, discord_errors():
            message = await self._client.http.send_message(notice.channel_id, params=params)
        return PostedNotification(channel_id=notice.channel_id, message_id=int(message["id"]))

    async def _check_channel(self, notice: NotificationInput) -> None:
        """Post only in a channel of the whisper's own server: a client's caller could name any."""
        guild: object = None  # Discord knows no such channel, or it is a DM
        try:
            with discord_errors():
                guild = (await self._client.http.get_channel(notice.channel_id)).get("guild_id")
        except ApplicationError as err:
            if not already_gone(err):
                raise
        if str(guild) != str(notice.guild_id):
            raise ApplicationError(
                f"channel {notice.channel_id} is not a channel of this server, so nothing was posted",
                type=NOT_IN_SERVER,
                non_retryable=True,
            )

    @activity.defn(name=DELETE_NOTIFICATION)
    async def delete_notification(self, posted: PostedNotification) -> bool:
        """Remove the public notification; False when it was already gone (404 counts as done)."""
        require_login(self._client)
        try:
            with discord_errors():
                await self._client.http.delete_message(posted.channel_id, posted.message_id)
        except ApplicationError as err:
            if already_gone(err):
                return False
            raise
        return True

    @activity.defn(name=EDIT_NOTIFICATION)
    async def edit_notification(self, edit: NotificationEdit) -> bool:
        """Replace the notification's text, and drop its button unless the whisper can be read
        again; False when it was already gone."""
        require_login(self._client)
        message = self._client.get_partial_messageable(edit.channel_id).get_partial_message(edit.message_id)
        view = read_button_view(edit.keep_read_button) if edit.keep_read_button else None
        try:
            with discord_errors():
                await message.edit(
                    content=edit.content, view=view, allowed_mentions=discord.AllowedMentions.none()
                )
        except ApplicationError as err:
            if already_gone(err):
                return False
            raise
        return True

    @activity.defn(name=DM_SENDER)
    async def dm_sender(self, notice: SenderNotice) -> None:
        require_login(self._client)
        with discord_errors():
            dm = await self._client.http.start_private_message(notice.sender_id)
            channel = self._client.get_partial_messageable(int(dm["id"]))
            await channel.send(
                notice.content, nonce=activity_nonce(), allowed_mentions=discord.AllowedMentions.none()
            )

    def all(self) -> list[object]:
        return [self.post_notification, self.delete_notification, self.edit_notification, self.dm_sender]
