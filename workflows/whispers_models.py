"""Inputs, messages and results of the whisper workflow, and the names both sides share.

The whisper's text is sealed by the bot with WHISPER_KEYS (stack/sealing.py) before the workflow
starts: the workflow input and the `read` result carry only `sealed_text`, which the codec
encrypts once more. Whispers started before sealing carry `text` instead (still readable).
No activity input, search attribute, id, summary, details or custom id ever carries either.
Discord ids are `Snowflake`s: strings in JSON.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from workflows.common import Snowflake

WHISPERS_WORKFLOW = "Whisper"
# The guild setting (workflows.store_models.settings_store_name) that switches whispers off;
# absent means on.
WHISPERS_ENABLED = "whispers_enabled"
ID_PREFIX = "whisper-"
TEXT_MAX = 1000
# A sealed TEXT_MAX text: 4 bytes a character at most, nonce and tag, base64, key id prefix.
SEALED_MAX = 6000
DEFAULT_EXPIRY = timedelta(days=30)
MAX_EXPIRY = timedelta(days=365)
DEFAULT_REREAD_WINDOW = timedelta(hours=24)

# Workflow ids the bot accepts from a button (components/whispers.py): `whisper-<guild>-<sender>-<hex>`.
ID_PATTERN = r"whisper-[0-9]{1,20}-[0-9]{1,20}-[0-9a-f]{8,32}"

# Activity names (activities/whispers.py registers under these; test doubles too).
POST_NOTIFICATION = "whisper_post_notification"
EDIT_NOTIFICATION = "whisper_edit_notification"
DELETE_NOTIFICATION = "whisper_delete_notification"
DM_SENDER = "whisper_dm_sender"

# Error types of refused updates, so the bot can tell them apart without parsing messages.
NOT_FOR_YOU = "WhisperNotForYou"
NOT_YOURS = "WhisperNotYours"
WHISPER_OVER = "WhisperOver"
# The notification activity's refusal of a workflow id that is no whisper id (non-retryable).
BAD_WHISPER_ID = "NotAWhisperId"
# Its refusal of a channel Discord does not place in the whisper's server (non-retryable).
NOT_IN_SERVER = "WhisperChannelNotInServer"

# The operators' signal (`temporal workflow signal --name operator_cancel --input
# '{"by": "alice", "reason": "reported"}'`), and what a Temporal cancellation is recorded as.
OPERATOR_CANCEL = "operator_cancel"
TEMPORAL_CANCEL_REASON = "cancelled through Temporal"

WhisperState = Literal["posting", "unread", "read", "expired", "cancelled", "failed"]
WhisperOutcome = Literal["read", "expired", "cancelled", "failed"]


def guild_of(whisper_id: str) -> int | None:
    """The guild a whisper id names, or None if it is not a whisper id."""
    if not re.fullmatch(ID_PATTERN, whisper_id):
        return None
    return int(whisper_id.split("-")[1])


class WhisperSpec(BaseModel):
    guild_id: Snowflake
    channel_id: Snowflake
    sender_id: Snowflake
    recipient_id: Snowflake
    # Sealed for this whisper id and recipient by the bot; the workflow never opens it.
    sealed_text: str | None = Field(default=None, min_length=1, max_length=SEALED_MAX)
    # Only whispers started before sealing: the text itself (kept so they replay and stay readable).
    text: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
    expires_after: timedelta = Field(default=DEFAULT_EXPIRY, gt=timedelta(0), le=MAX_EXPIRY)
    reread_window: timedelta = Field(default=DEFAULT_REREAD_WINDOW, ge=timedelta(0), le=timedelta(days=7))

    @model_validator(mode="after")
    def _consistent(self) -> WhisperSpec:
        if self.sender_id == self.recipient_id:
            raise ValueError("you cannot whisper to yourself")
        if (self.sealed_text is None) == (self.text is None):
            raise ValueError("a whisper carries either its sealed text or (before sealing) its text")
        return self

    def __repr__(self) -> str:  # keep the text out of logs and tracebacks
        return (
            f"WhisperSpec(guild_id={self.guild_id}, sender_id={self.sender_id}, "
            f"recipient_id={self.recipient_id}, text=<hidden>)"
        )

    __str__ = __repr__


class ReadRequest(BaseModel):
    reader_id: Snowflake


class ReadResult(BaseModel):
    # From the workflow: `sealed_text` (or `text` for a whisper from before sealing); the
    # client facade opens the seal and fills `text` for the recipient's card.
    sealed_text: str | None = None
    text: str | None = None
    sender_id: Snowflake
    recipient_id: Snowflake
    guild_id: Snowflake
    sent_at: datetime
    first_read_at: datetime
    # True on every read after the first (within the re-read window).
    already_read: bool
    # Until when the Read Message button opens it again (None: no second reading).
    readable_until: datetime | None = None

    def __repr__(self) -> str:
        return f"ReadResult(sender_id={self.sender_id}, already_read={self.already_read}, text=<hidden>)"

    __str__ = __repr__


class CancelWhisperRequest(BaseModel):
    by: Snowflake


class OperatorCancel(BaseModel):
    """The `operator_cancel` signal: who (an operator's name, not a Discord id) and why."""

    by: str = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=500)


class Cancellation(BaseModel):
    """How a whisper was cancelled: unsent by its sender (`by` is the sender's id), by an
    operator's signal, or by Temporal's own cancellation (who is not known to the workflow)."""

    via: Literal["unsend", "operator", "temporal"]
    by: str | None = None
    reason: str | None = None


class WhisperStatus(BaseModel):
    """What the bot and operators may see: never the text."""

    state: WhisperState
    guild_id: Snowflake
    channel_id: Snowflake
    sender_id: Snowflake
    recipient_id: Snowflake
    sent_at: datetime
    expires_at: datetime
    read_at: datetime | None = None
    notification_id: Snowflake | None = None
    cancellation: Cancellation | None = None


class WhisperResult(BaseModel):
    outcome: WhisperOutcome
    at: datetime
    read_at: datetime | None = None
    reason: str | None = None
    cancellation: Cancellation | None = None


# --- activity inputs and outputs (ids and fixed wording only) ---------------------------------------


class NotificationInput(BaseModel):
    whisper_id: str
    guild_id: Snowflake
    channel_id: Snowflake
    sender_id: Snowflake
    recipient_id: Snowflake


class PostedNotification(BaseModel):
    channel_id: Snowflake
    message_id: Snowflake


class NotificationEdit(BaseModel):
    channel_id: Snowflake
    message_id: Snowflake
    content: str = Field(min_length=1, max_length=2000)
    # Set: the notification keeps this whisper's Read Message button (it can be read again).
    keep_read_button: str | None = None


class SenderNotice(BaseModel):
    sender_id: Snowflake
    content: str = Field(min_length=1, max_length=2000)
