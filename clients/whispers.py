"""The whispers facade the bot uses: send, read, unsend, status, on Temporal.

One Whisper workflow per whisper. Every refusal comes back as a `WhisperError` (or the shared
`NotYours`) whose message is fit to show the user. The text is sealed (stack/sealing.py,
WHISPER_KEYS) before the workflow starts, for this whisper id and recipient, and opened again
only in `read`, whose `ReadResult` the bot shows ephemerally to the recipient and nowhere else.
Without a seal nothing is sent.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCStatusCode

from clients.arguments import DiscordId, refuses
from clients.calls import Calls, Refusals, said
from clients.names import NO_NAMES, Names
from stack.sealing import SealBroken, WhisperSeal
from workflows import search_attributes as sa
from workflows.common import NotYours, UserError, first_error, visible
from workflows.whispers import WhisperWorkflow
from workflows.whispers_models import (
    DEFAULT_EXPIRY,
    ID_PREFIX,
    NOT_FOR_YOU,
    NOT_YOURS,
    OPERATOR_CANCEL,
    CancelWhisperRequest,
    OperatorCancel,
    ReadRequest,
    ReadResult,
    WhisperSpec,
    WhisperStatus,
    guild_of,
)

EXPIRED = "This whisper has expired."
NOT_FOR_YOU_TEXT = "This whisper is not for you."
NO_KEY = "Whispers are not set up on this bot: it has no whisper key (WHISPER_KEYS)."
CANNOT_OPEN = "This whisper cannot be opened: its seal is not this whisper's, or this bot lacks its key."


class WhisperError(UserError):
    """A refusal; the message is fit to show the user."""


class NotForYou(WhisperError):
    pass


class WhisperOver(WhisperError):
    """The whisper is over (expired, unsent, or its re-read window closed) or never existed."""


@refuses(WhisperError)
def whisper_id_for(guild_id: DiscordId, sender_id: DiscordId) -> str:
    """A business key: guild and sender, plus a random part (never the text)."""
    return f"{ID_PREFIX}{guild_id}-{sender_id}-{uuid.uuid4().hex[:16]}"


def static_summary(spec: WhisperSpec, names: Names = NO_NAMES) -> str:
    """Who and where, never the text; `names.member` is the sender's."""
    sender = names.who(spec.sender_id)
    return f"whisper in {names.where(spec.channel_id)} from {sender} to member {spec.recipient_id}"


class NotSetUp(WhisperError):
    """No whisper key: whispers can be neither sent nor (once sealed) opened."""


REFUSALS = Refusals(
    refused=WhisperOver,
    over=lambda: WhisperOver(EXPIRED),
    kinds={NOT_FOR_YOU: said(NotForYou), NOT_YOURS: said(NotYours)},
    # A completed (or never started) workflow takes no updates: the whisper is over.
    over_statuses=frozenset({RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION}),
    too_large=WhisperError,
)


class Whispers:
    def __init__(self, client: Client, task_queue: str, seal: WhisperSeal | None = None) -> None:
        self._client = client
        self._task_queue = task_queue
        self._seal = seal
        self._calls = Calls(client, REFUSALS)

    @property
    def can_send(self) -> bool:
        return self._seal is not None

    @refuses(WhisperError)
    async def send(
        self,
        *,
        guild_id: DiscordId,
        channel_id: DiscordId,
        sender_id: DiscordId,
        recipient_id: DiscordId,
        text: str,
        expires_after: timedelta = DEFAULT_EXPIRY,
        reread_window: timedelta | None = None,
        whisper_id: str | None = None,
        names: Names = NO_NAMES,
    ) -> str:
        """Start a whisper; returns its id. Refuses bad input (and, with no seal, everything)
        before anything is started. `whisper_id`: an id of this guild and sender to use instead
        of a random one (an import derives it from the original's, so it never starts twice)."""
        if self._seal is None:
            raise NotSetUp(NO_KEY)
        extra: dict[str, Any] = {} if reread_window is None else {"reread_window": reread_window}
        try:
            if isinstance(text, str) and text:  # here: the workflow only ever holds the sealed text
                visible(text, "the whisper", WhisperError)
            draft = WhisperSpec(
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
        if whisper_id is None:
            whisper_id = whisper_id_for(draft.guild_id, draft.sender_id)
        elif not whisper_id.startswith(f"{ID_PREFIX}{draft.guild_id}-{draft.sender_id}-"):
            raise WhisperError("that whisper id is not one of this server and sender")
        if guild_of(whisper_id) is None:  # the id the Read button must carry, checked up front
            raise WhisperError(f"cannot make a whisper id from guild {guild_id} and sender {sender_id}")
        sealed = self._seal.seal(text, whisper_id=whisper_id, recipient_id=draft.recipient_id)
        spec = WhisperSpec(**draft.model_dump(exclude={"text", "sealed_text"}), sealed_text=sealed)
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
                    names.title("Whisper"),
                ]
            ),
            static_summary=static_summary(spec, names),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        return whisper_id

    @refuses(WhisperError)
    async def read(self, whisper_id: str, *, reader_id: DiscordId) -> ReadResult:
        """The text, opened for the recipient only. Raises NotForYou, WhisperOver, NotSetUp,
        WhisperError (a sealed text that does not open)."""
        self._check_id(whisper_id)
        if self._seal is None:  # refused before the read is recorded (the sender would be told)
            raise NotSetUp(NO_KEY)
        result: ReadResult = await self._update(
            whisper_id, WhisperWorkflow.read, ReadRequest(reader_id=reader_id)
        )
        if result.sealed_text is None:  # a whisper from before sealing carries its text
            return result
        try:
            # Bound to this id and this reader (whom the workflow checked is the recipient).
            text = self._seal.open(result.sealed_text, whisper_id=whisper_id, recipient_id=reader_id)
        except SealBroken:
            raise WhisperError(CANNOT_OPEN) from None
        return result.model_copy(update={"text": text})

    @refuses(WhisperError)
    async def cancel(self, whisper_id: str, *, by: DiscordId) -> WhisperStatus:
        """Unsend before it is read; only the sender. Raises NotYours, WhisperError, WhisperOver."""
        self._check_id(whisper_id)
        status: WhisperStatus = await self._update(
            whisper_id, WhisperWorkflow.cancel, CancelWhisperRequest(by=by)
        )
        return status

    @refuses(WhisperError)
    async def operator_cancel(self, whisper_id: str, *, by: str, reason: str = "") -> None:
        """What an operator's `temporal workflow signal --name operator_cancel` does, for scripts."""
        self._check_id(whisper_id)
        try:
            request = OperatorCancel(by=by, reason=reason)
        except ValidationError as err:
            raise WhisperError(first_error(err)) from None
        handle = self._client.get_workflow_handle_for(WhisperWorkflow.run, whisper_id)
        await self._calls.signal(handle, OPERATOR_CANCEL, request)

    @refuses(WhisperError)
    async def status(self, whisper_id: str) -> WhisperStatus:
        self._check_id(whisper_id)
        handle = self._client.get_workflow_handle_for(WhisperWorkflow.run, whisper_id)
        return await self._calls.query(handle, WhisperWorkflow.status)

    @staticmethod
    def _check_id(whisper_id: str) -> None:
        if guild_of(whisper_id) is None:
            raise WhisperOver(EXPIRED)

    async def _update(self, whisper_id: str, update: Any, request: Any) -> Any:
        handle = self._client.get_workflow_handle_for(WhisperWorkflow.run, whisper_id)
        return await self._calls.update(handle, update, request)
