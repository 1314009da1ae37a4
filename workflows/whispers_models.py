"""Inputs, messages and results of the whisper workflow, and the names both sides share.

The whisper's text travels in exactly two payloads: the workflow input and the result of a
`read` update. Both are encrypted by the codec. No activity input, search attribute, id,
summary, details or custom id ever carries it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

WORKFLOW_NAME = "Whisper"
ID_PREFIX = "whisper-"
TEXT_MAX = 1000
DEFAULT_EXPIRY = timedelta(days=30)
MAX_EXPIRY = timedelta(days=365)
DEFAULT_REREAD_WINDOW = timedelta(hours=24)

# The "Read Message" button: `whisper:read:<workflow id>`; the bot's DynamicItem parses it.
READ_PREFIX = "whisper:read:"
CUSTOM_ID_MAX = 100
# Workflow ids the bot accepts from a button: `whisper-<guild>-<sender>-<hex>`, nothing else.
ID_PATTERN = r"whisper-[0-9]{1,20}-[0-9]{1,20}-[0-9a-f]{8,32}"
READ_TEMPLATE = re.escape(READ_PREFIX) + r"(?P<id>" + ID_PATTERN + r")"

# Activity names (activities/whispers.py registers under these; test doubles too).
POST_NOTIFICATION = "whisper_post_notification"
EDIT_NOTIFICATION = "whisper_edit_notification"
DELETE_NOTIFICATION = "whisper_delete_notification"
DM_SENDER = "whisper_dm_sender"

# Error types of refused updates, so the bot can tell them apart without parsing messages.
NOT_FOR_YOU = "WhisperNotForYou"
NOT_YOURS = "WhisperNotYours"
WHISPER_OVER = "WhisperOver"

WhisperState = Literal["posting", "unread", "read", "expired", "cancelled", "failed"]
WhisperOutcome = Literal["read", "expired", "cancelled", "failed"]


def read_custom_id(whisper_id: str) -> str:
    custom_id = READ_PREFIX + whisper_id
    if len(custom_id) > CUSTOM_ID_MAX or not re.fullmatch(READ_TEMPLATE, custom_id):
        raise ValueError(f"not a whisper id: {whisper_id!r}")
    return custom_id


def guild_of(whisper_id: str) -> int | None:
    """The guild a whisper id names, or None if it is not a whisper id."""
    if not re.fullmatch(ID_PATTERN, whisper_id):
        return None
    return int(whisper_id.split("-")[1])


class WhisperSpec(BaseModel):
    guild_id: int
    channel_id: int
    sender_id: int
    recipient_id: int
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    expires_after: timedelta = Field(default=DEFAULT_EXPIRY, gt=timedelta(0), le=MAX_EXPIRY)
    reread_window: timedelta = Field(default=DEFAULT_REREAD_WINDOW, ge=timedelta(0), le=timedelta(days=7))

    @model_validator(mode="after")
    def _not_to_self(self) -> WhisperSpec:
        if self.sender_id == self.recipient_id:
            raise ValueError("you cannot whisper to yourself")
        return self

    def __repr__(self) -> str:  # keep the text out of logs and tracebacks
        return (
            f"WhisperSpec(guild_id={self.guild_id}, sender_id={self.sender_id}, "
            f"recipient_id={self.recipient_id}, text=<{len(self.text)} chars>)"
        )

    __str__ = __repr__


class ReadRequest(BaseModel):
    reader_id: int


class ReadResult(BaseModel):
    text: str
    sender_id: int
    recipient_id: int
    guild_id: int
    sent_at: datetime
    first_read_at: datetime
    # True on every read after the first (within the re-read window).
    already_read: bool

    def __repr__(self) -> str:
        return f"ReadResult(sender_id={self.sender_id}, already_read={self.already_read}, text=<hidden>)"

    __str__ = __repr__


class CancelWhisperRequest(BaseModel):
    by: int


class WhisperStatus(BaseModel):
    """What the bot and operators may see: never the text."""

    state: WhisperState
    guild_id: int
    channel_id: int
    sender_id: int
    recipient_id: int
    sent_at: datetime
    expires_at: datetime
    read_at: datetime | None = None
    notification_id: int | None = None


class WhisperResult(BaseModel):
    outcome: WhisperOutcome
    at: datetime
    read_at: datetime | None = None
    reason: str | None = None


# --- activity inputs and outputs (ids and fixed wording only) ---------------------------------------


class NotificationInput(BaseModel):
    whisper_id: str
    guild_id: int
    channel_id: int
    sender_id: int
    recipient_id: int


class PostedNotification(BaseModel):
    channel_id: int
    message_id: int


class NotificationEdit(BaseModel):
    channel_id: int
    message_id: int
    content: str = Field(min_length=1, max_length=2000)


class SenderNotice(BaseModel):
    sender_id: int
    content: str = Field(min_length=1, max_length=2000)
