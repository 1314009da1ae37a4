"""The scheduler's own actions: reminders, plain posts, and the notice when a job fails.

Each is an activity registered under its catalogue name (workflows/jobs_actions.py), the Python
form of CastBot's `scheduler.registerAction(name, fn)`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import discord
from discord.utils import format_dt
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import activity_nonce, already_gone, discord_errors, require_login
from workflows.common import EDIT_ANNOUNCEMENT, AnnouncementEdit
from workflows.jobs import REMINDER_TOO_LATE
from workflows.jobs_actions import (
    FIND_REMINDER_POST,
    NOTIFY_JOB_CANCELLED,
    NOTIFY_JOB_FAILED,
    POST_MESSAGE,
    SEND_REMINDER,
    PostMessagePayload,
)
from workflows.jobs_models import ActionInput, CancelNotice, FailureNotice, ReminderInput, ReminderLookup

# Scheduled text may mention users; it must never ping a whole server or a role by surprise.
SAFE_MENTIONS = discord.AllowedMentions(everyone=False, roles=False, users=True)
# A look for a reminder's post reads the channel from its first attempt on, less this for
# Discord's clock and ours, and at most this many pages of 100 messages.
LOOKUP_SKEW = timedelta(minutes=2)
LOOKUP_PAGES = 10


def reminder_text(reminder: ReminderInput) -> str:
    deadline = reminder.deadline
    what = reminder.description or "Scheduled job"
    return f"⏰ **{what}** in {reminder.message} ({format_dt(deadline, 'R')}, {format_dt(deadline, 't')})"


class JobsActivities:
    """Activities that post to Discord through one shared, logged-in discord.py client."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def send(self, channel_id: int, content: str, nonce_key: str | None = None) -> discord.Message:
        """Post once: a retry carries the same nonce and gets the first message. The nonce comes
        from the workflow's run and `nonce_key` when given (stable across separate activities that
        post one thing), else from this activity's id."""
        require_login(self._client)
        channel = self._client.get_partial_messageable(channel_id)
        if nonce_key:
            info = activity.info()
            nonce = activity_nonce(info.workflow_id or "", info.workflow_run_id or "", nonce_key)
        else:
            nonce = activity_nonce()
        with discord_errors():
            return await channel.send(content, nonce=nonce, allowed_mentions=SAFE_MENTIONS)

    @activity.defn(name=SEND_REMINDER)
    async def send_reminder(self, reminder: ReminderInput) -> dict[str, str]:
        """Post a reminder, but never at or after its last moment: the workflow cancels a late
        attempt too, and this holds even if that cancel arrives late."""
        post_by = reminder.post_by or reminder.deadline
        left = (post_by - datetime.now(UTC)).total_seconds()
        if left <= 0:
            raise ApplicationError(
                f"not posted: its last moment ({post_by:%H:%M:%S} UTC) had passed",
                type=REMINDER_TOO_LATE,
                non_retryable=True,
            )
        try:
            async with asyncio.timeout(left):
                message = await self.send(reminder.channel_id, reminder_text(reminder), reminder.nonce_key)
        except TimeoutError:
            raise ApplicationError(
                f"not posted: Discord had not answered by its last moment ({post_by:%H:%M:%S} UTC)",
                type=REMINDER_TOO_LATE,
                non_retryable=True,
            ) from None
        return {"message_id": str(message.id)}

    @activity.defn(name=FIND_REMINDER_POST)
    async def find_reminder_post(self, lookup: ReminderLookup) -> dict[str, str]:
        """The reminder's post, if Discord took it though no attempt heard back: a message of the
        bot's (not a webhook's) with the reminder's text since the first attempt. Discord cannot be
        asked by nonce, and the text names the job, the reminder and the deadline."""
        require_login(self._client)
        text = reminder_text(lookup.reminder)
        me = str(self._client.user.id) if self._client.user else None
        after = discord.utils.time_snowflake(lookup.since - LOOKUP_SKEW)
        for _ in range(LOOKUP_PAGES):
            with discord_errors():
                page = await self._client.http.logs_from(lookup.reminder.channel_id, 100, after=after)
            for message in page:
                ours = me is None or str(message.get("author", {}).get("id")) == me
                if ours and message.get("content") == text and not message.get("webhook_id"):
                    return {"message_id": str(message["id"])}
            if len(page) < 100:
                return {}
            after = max(int(message["id"]) for message in page)
        raise ApplicationError(
            f"over {LOOKUP_PAGES * 100} messages came in the channel since, too many to read",
            type="PostUnknown",
            non_retryable=True,
        )

    @activity.defn(name=POST_MESSAGE)
    async def post_message(self, action: ActionInput) -> dict[str, str]:
        try:
            payload = PostMessagePayload.model_validate(action.payload)
        except ValidationError as err:
            raise ApplicationError(f"bad payload for post_message: {err}", non_retryable=True) from err
        content = payload.content
        if action.late_note:
            note = f"\n-# {action.late_note}"
            content = content[: 2000 - len(note)] + note
        message = await self.send(action.channel_id, content, action.nonce_key)
        return {"message_id": str(message.id)}

    @activity.defn(name=EDIT_ANNOUNCEMENT)
    async def edit_announcement(self, edit: AnnouncementEdit) -> bool:
        """Replace a public announcement's text and drop its buttons (a Join that no longer
        applies) unless they still apply (`keep_buttons`); False when the message is gone (404
        counts as done: nothing left to correct)."""
        require_login(self._client)
        message = self._client.get_partial_messageable(edit.channel_id).get_partial_message(edit.message_id)
        try:
            with discord_errors():
                if edit.keep_buttons:
                    await message.edit(content=edit.content, allowed_mentions=SAFE_MENTIONS)
                else:
                    await message.edit(content=edit.content, view=None, allowed_mentions=SAFE_MENTIONS)
        except ApplicationError as err:
            if already_gone(err):
                return False
            raise
        return True

    @activity.defn(name=NOTIFY_JOB_CANCELLED)
    async def notify_job_cancelled(self, notice: CancelNotice) -> None:
        """Tell the job's channel (and its owner, by mention) that an operator cancelled it."""
        what = notice.description or notice.job_id
        why = f": {notice.reason}" if notice.reason else ""
        text = f"🛑 Scheduled job **{what}** (by <@{notice.scheduled_by}>) was cancelled by {notice.by}{why}"
        await self.send(notice.channel_id, text[:2000])

    @activity.defn(name=NOTIFY_JOB_FAILED)
    async def notify_job_failed(self, notice: FailureNotice) -> None:
        """Say where the job was meant to post that it failed; if that channel refuses, DM its owner."""
        what = notice.description or notice.job_id
        text = f"⚠️ Scheduled job **{what}** failed: {notice.reason}"[:2000]
        try:
            await self.send(notice.channel_id, text)
            return
        except ApplicationError as err:
            if not err.non_retryable:
                raise
        with discord_errors():
            dm = await self._client.http.start_private_message(notice.scheduled_by)
        await self.send(int(dm["id"]), text)
