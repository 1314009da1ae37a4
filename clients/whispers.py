"""The whispers facade the bot uses: send, read, unsend, status, on Temporal.

One Whisper workflow per whisper. Every refusal comes back as a `WhisperError` whose message is
fit to show the user; the whisper's text is only ever in a `ReadResult`, which the bot shows
ephemerally to the recipient and nowhere else.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workflows import search_attributes as sa
from workflows.common import UserError, first_error
from workflows.whispers import WhisperWorkflow
from workflows.whispers_models import (
    DEFAULT_EXPIRY,
    ID_PREFIX,
    NOT_FOR_YOU,
    NOT_YOURS,
    CancelWhisperRequest,
    ReadRequest,
    ReadResult,
    WhisperSpec,
    WhisperStatus,
    guild_of,
)

EXPIRED = "This whisper has expired."
NOT_FOR_YOU_TEXT = "This whisper is not for you."


class WhisperError(UserError):
    """A refusal; the message is fit to show the user."""


class NotForYou(WhisperError):
    pass


class NotYours(WhisperError):
    pass


class WhisperOver(WhisperError):
    """The whisper is over (expired, unsent, or its re-read window closed) or never existed."""


def whisper_id_for(guild_id: int, sender_id: int) -> str:
    """A business key: guild and sender, plus a random part (never the text)."""
    return f"{ID_PREFIX}{guild_id}-{sender_id}-{uuid.uuid4().hex[:16]}"


def static_summary(spec: WhisperSpec) -> str:
    return f"whisper from <@{spec.sender_id}> to <@{spec.recipient_id}>"


class Whispers:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def send(
        self,
        *,
        guild_id: int,
        channel_id: int,
        sender_id: int,
        recipient_id: int,
        text: str,
        expires_after: timedelta = DEFAULT_EXPIRY,
        reread_window: timedelta | None = None,
    ) -> str:
        """Start a whisper; returns its id. Refuses bad input before anything is started."""
        extra: dict[str, Any] = {} if reread_window is None else {"reread_window": reread_window}
        try:
            spec = WhisperSpec(
                guild_id=guild_id,
                channel_id=channel_id,
                sender_id=sender_id,
                recipient_id=recipient_id,
                text=text,
                expires_after=expires_after,
                **extra,
            )
        except ValidationError as err:
            raise WhisperError(first_error(err)) from None
        whisper_id = whisper_id_for(guild_id, sender_id)
        await self._client.start_workflow(
            WhisperWorkflow.run,
            spec,
            id=whisper_id,
            task_queue=self._task_queue,
            # Ids only: search attributes, summaries and ids are stored in plain text.
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.GUILD_ID, str(guild_id)),
                    SearchAttributePair(sa.CHANNEL_ID, str(channel_id)),
                ]
            ),
            static_summary=static_summary(spec),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        return whisper_id

    async def read(self, whisper_id: str, *, reader_id: int) -> ReadResult:
        """The text, for the recipient only. Raises NotForYou, WhisperOver."""
        self._check_id(whisper_id)
        result: ReadResult = await self._update(
            whisper_id, WhisperWorkflow.read, ReadRequest(reader_id=reader_id)
        )
        return result

    async def cancel(self, whisper_id: str, *, by: int) -> WhisperStatus:
        """Unsend before it is read; only the sender. Raises NotYours, WhisperError, WhisperOver."""
        self._check_id(whisper_id)
        status: WhisperStatus = await self._update(
            whisper_id, WhisperWorkflow.cancel, CancelWhisperRequest(by=by)
        )
        return status

    async def status(self, whisper_id: str) -> WhisperStatus:
        self._check_id(whisper_id)
        handle = self._client.get_workflow_handle_for(WhisperWorkflow.run, whisper_id)
        try:
            return await handle.query(WhisperWorkflow.status)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise WhisperOver(EXPIRED) from None
            raise

    @staticmethod
    def _check_id(whisper_id: str) -> None:
        if guild_of(whisper_id) is None:
            raise WhisperOver(EXPIRED)

    async def _update(self, whisper_id: str, update: Any, request: Any) -> Any:
        handle = self._client.get_workflow_handle_for(WhisperWorkflow.run, whisper_id)
        try:
            return await handle.execute_update(update, request)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                if cause.type == NOT_FOR_YOU:
                    raise NotForYou(cause.message) from None
                if cause.type == NOT_YOURS:
                    raise NotYours(cause.message) from None
                raise WhisperOver(cause.message) from None
            # The workflow completed while the update was in flight.
            raise WhisperOver(EXPIRED) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise
        except RPCError as err:
            # A completed (or never started) workflow takes no updates: the whisper is over.
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise WhisperOver(EXPIRED) from None
            raise
