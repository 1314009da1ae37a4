"""The whisper: a secret message that lives in a workflow until its recipient reads it.

Replaces CastBot's `global.activeWhispers` / `data_whispers.json`: the text is the workflow's
(encrypted) input, the expiry is a durable timer, and only the recipient gets the text back,
through the `read` update whose validator refuses everyone else before anything is recorded.

    post notification -> wait for read | cancel | expiry ("expiry" timer)
      read:      delete notification, DM the sender, stay readable ("re-read window" timer)
      cancel:    edit the notification to say it was unsent
      expiry:    edit the notification to say it expired, DM the sender
      operator_cancel signal, or Temporal's cancellation (`temporal workflow cancel`):
                 edit the notification to say an operator removed it, DM the sender, and end
                 as "cancelled" with who and why (a read whisper's re-read window closes)

The text is sealed by the bot (stack/sealing.py): this workflow keeps and returns `sealed_text`
and never holds the key that opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from workflows.common import ATTEMPT_TIMEOUT, BEST_EFFORT_BUDGET, DISCORD_RETRY, failure_reason
    from workflows.outcomes import Outcome, record_outcome
    from workflows.times import discord_time, when
    from workflows.whispers_models import (
        DELETE_NOTIFICATION,
        DM_SENDER,
        EDIT_NOTIFICATION,
        NOT_FOR_YOU,
        NOT_YOURS,
        OPERATOR_CANCEL,
        POST_NOTIFICATION,
        TEMPORAL_CANCEL_REASON,
        WHISPER_OVER,
        WHISPERS_WORKFLOW,
        Cancellation,
        CancelWhisperRequest,
        NotificationEdit,
        NotificationInput,
        OperatorCancel,
        PostedNotification,
        ReadRequest,
        ReadResult,
        SenderNotice,
        WhisperOutcome,
        WhisperResult,
        WhisperSpec,
        WhisperState,
        WhisperStatus,
    )


OVER_MESSAGES: dict[str, str] = {
    "expired": "This whisper has expired.",
    "cancelled": "This whisper was unsent.",
    "failed": "This whisper could not be delivered.",
}
REMOVED = "This whisper was removed by an operator."
# From this patch on, a read whisper's notification keeps its Read Message button through the
# re-read window (the recipient's card promises it), and is deleted when the window closes.
REREAD_PATCH = "whisper-read-button-kept-for-rereading"
# A whisper that expired unread ran its course: nothing failed.
WHISPER_OUTCOMES: dict[str, Outcome] = {
    "read": "done",
    "expired": "done",
    "cancelled": "cancelled",
    "failed": "failed",
}


@workflow.defn(name=WHISPERS_WORKFLOW)
class WhisperWorkflow:
    @workflow.init
    def __init__(self, spec: WhisperSpec) -> None:
        self._spec = spec
        self._state: WhisperState = "posting"
        self._sent_at = workflow.info().workflow_start_time
        self._expires_at = self._sent_at + spec.expires_after
        self._read_at: datetime | None = None
        self._cancellation: Cancellation | None = None
        self._failure: str | None = None
        self._notice: PostedNotification | None = None

    @workflow.run
    async def run(self, spec: WhisperSpec) -> WhisperResult:
        self._show()
        try:
            return await self._deliver(spec)
        except (asyncio.CancelledError, FailureError) as err:
            if not is_cancelled_exception(err):
                raise
            return await self._cancelled_by_temporal()

    async def _deliver(self, spec: WhisperSpec) -> WhisperResult:
        try:
            # Local: one workflow task for the start and the post; nobody waits on this task.
            self._notice = await workflow.execute_local_activity(
                POST_NOTIFICATION,
                self._notification_input(),
                result_type=PostedNotification,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=BEST_EFFORT_BUDGET,
                retry_policy=DISCORD_RETRY,
                summary="post notification",
            )
        except FailureError as err:
            if is_cancelled_exception(err):
                raise
            reason = self._failure = failure_reason(err)
            self._state = "failed"
            await self._dm_sender(
                f"⚠️ Your whisper to <@{spec.recipient_id}> could not be delivered: {reason}"[:2000]
            )
            return self._finish("failed", reason=reason)

        if self._state == "posting":
            self._state = "unread"
        self._show()
        wait = (self._expires_at - workflow.now()).total_seconds()
        if self._state == "unread" and wait > 0:
            with contextlib.suppress(TimeoutError):  # expired: handled below
                await workflow.wait_condition(
                    lambda: self._state != "unread", timeout=wait, timeout_summary="expiry"
                )
        if self._state == "unread":
            return await self._expire()
        if self._state == "cancelled":
            return await self._unsent()
        return await self._opened()

    async def _opened(self) -> WhisperResult:
        assert self._read_at is not None
        until = self._read_at + self._spec.reread_window
        keep_button = self._spec.reread_window > timedelta(0) and workflow.patched(REREAD_PATCH)
        whose = f"💬 <@{self._spec.sender_id}>'s whisper to <@{self._spec.recipient_id}>"
        await asyncio.gather(
            self._edit_notification(
                f"{whose} was read. <@{self._spec.recipient_id}> can open it again until "
                f"{discord_time(until, 'f')}.",
                keep_read_button=True,
            )
            if keep_button
            else self._delete_notification(),
            self._dm_sender(f"📬 <@{self._spec.recipient_id}> opened your whisper."),
        )
        # Readable again until the window after the first read closes (or an operator closes
        # it); then the workflow ends.
        remaining = (until - workflow.now()).total_seconds()
        if remaining > 0 and self._state == "read":
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._state != "read", timeout=remaining, timeout_summary="re-read window"
                )
        if keep_button:
            await self._delete_notification()  # its button opens nothing any more
        return self._finish("cancelled" if self._state == "cancelled" else "read")

    async def _expire(self) -> WhisperResult:
        self._state = "expired"
        self._show()
        days = self._spec.expires_after.days
        after = f"{days} days" if days >= 2 else f"{self._spec.expires_after}"
        await asyncio.gather(
            self._edit_notification(
                f"💬 <@{self._spec.sender_id}>'s whisper to <@{self._spec.recipient_id}> expired unread."
            ),
            self._dm_sender(f"⌛ Your whisper to <@{self._spec.recipient_id}> expired unread after {after}."),
        )
        return self._finish("expired")

    async def _unsent(self) -> WhisperResult:
        whose = f"💬 <@{self._spec.sender_id}>'s whisper to <@{self._spec.recipient_id}>"
        if self._cancellation is None or self._cancellation.via == "unsend":
            await self._edit_notification(f"{whose} was unsent.")
        else:
            await asyncio.gather(
                self._edit_notification(f"{whose} was removed by an operator."),
                self._dm_sender(
                    f"🛑 Your whisper to <@{self._spec.recipient_id}> was removed by an operator."
                ),
            )
        return self._finish("cancelled")

    async def _cancelled_by_temporal(self) -> WhisperResult:
        """`temporal workflow cancel`: end as cancelled, the notification edited, not a bare
        CANCELED. Whatever step the cancellation interrupted is done again (each is idempotent)."""
        was = self._state
        if was in ("posting", "unread", "read"):
            self._cancellation = Cancellation(via="temporal", reason=TEMPORAL_CANCEL_REASON)
            self._state = "cancelled"
        self._show()
        if was == "read":
            await self._delete_notification()  # a 404 counts as deleted
            return self._finish("cancelled")
        if was == "expired":
            return await self._expire()
        if was == "failed":
            return self._finish("failed", reason=self._failure)
        return await self._unsent()

    # --- messages -------------------------------------------------------------------------

    @workflow.update
    def read(self, request: ReadRequest) -> ReadResult:
        already = self._read_at is not None
        if self._read_at is None:
            self._read_at = workflow.now()
            self._state = "read"
            self._show()
        return ReadResult(
            sealed_text=self._spec.sealed_text,
            text=self._spec.text,  # only a whisper from before sealing has one
            sender_id=self._spec.sender_id,
            recipient_id=self._spec.recipient_id,
            guild_id=self._spec.guild_id,
            sent_at=self._sent_at,
            first_read_at=self._read_at,
            already_read=already,
            readable_until=self._read_at + self._spec.reread_window if self._spec.reread_window else None,
        )

    @read.validator
    def _validate_read(self, request: ReadRequest) -> None:
        # Refused here, a read leaves no trace in history; the recipient check comes first so
        # anyone else learns nothing about the whisper's state.
        if request.reader_id != self._spec.recipient_id:
            raise ApplicationError("This whisper is not for you.", type=NOT_FOR_YOU, non_retryable=True)
        if self._state in OVER_MESSAGES:
            raise ApplicationError(self._over_message(), type=WHISPER_OVER, non_retryable=True)

    @workflow.update
    def cancel(self, request: CancelWhisperRequest) -> WhisperStatus:
        self._cancellation = Cancellation(via="unsend", by=str(request.by))
        self._state = "cancelled"
        self._show()
        return self.status()

    @cancel.validator
    def _validate_cancel(self, request: CancelWhisperRequest) -> None:
        if request.by != self._spec.sender_id:
            raise ApplicationError(
                "Only the sender can unsend this whisper.", type=NOT_YOURS, non_retryable=True
            )
        if self._state == "read":
            raise ApplicationError(
                "This whisper has already been read; it cannot be unsent.",
                type=WHISPER_OVER,
                non_retryable=True,
            )
        if self._state in OVER_MESSAGES:
            raise ApplicationError(self._over_message(), type=WHISPER_OVER, non_retryable=True)

    @workflow.signal(name=OPERATOR_CANCEL)
    def operator_cancel(self, request: OperatorCancel) -> None:
        """For operators (CLI, Web UI): a signal, so no validator; anything over is left as it is."""
        if self._state not in ("posting", "unread", "read"):
            workflow.logger.info(
                "whisper %s: operator_cancel by %s ignored: already %s",
                workflow.info().workflow_id,
                request.by,
                self._state,
            )
            return
        self._cancellation = Cancellation(via="operator", by=request.by, reason=request.reason or None)
        self._state = "cancelled"
        self._show()

    def _over_message(self) -> str:
        if self._state == "cancelled" and self._cancellation and self._cancellation.via != "unsend":
            return REMOVED
        return OVER_MESSAGES[self._state]

    @workflow.query
    def status(self) -> WhisperStatus:
        return WhisperStatus(
            state=self._state,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            sender_id=self._spec.sender_id,
            recipient_id=self._spec.recipient_id,
            sent_at=self._sent_at,
            expires_at=self._expires_at,
            read_at=self._read_at,
            notification_id=self._notice.message_id if self._notice else None,
            cancellation=self._cancellation,
        )

    # --- side effects (regular activities: a reply to read/cancel is never held up by Discord) ---

    def _notification_input(self) -> NotificationInput:
        return NotificationInput(
            whisper_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            sender_id=self._spec.sender_id,
            recipient_id=self._spec.recipient_id,
        )

    async def _activity(self, name: str, arg: Any, summary: str) -> bool:
        """Run a best-effort side effect; a permanent Discord refusal is logged, not fatal."""
        try:
            await workflow.execute_activity(
                name,
                arg,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=BEST_EFFORT_BUDGET,
                retry_policy=DISCORD_RETRY,
                summary=summary,
            )
        except FailureError as err:
            if is_cancelled_exception(err):  # Temporal's cancellation: run() handles it
                raise
            workflow.logger.warning("whisper %s: %s failed: %s", workflow.info().workflow_id, summary, err)
            return False
        return True

    async def _delete_notification(self) -> None:
        if self._notice is not None:
            await self._activity(DELETE_NOTIFICATION, self._notice, "delete notification")

    async def _edit_notification(self, content: str, *, keep_read_button: bool = False) -> None:
        if self._notice is not None:
            edit = NotificationEdit(
                channel_id=self._notice.channel_id,
                message_id=self._notice.message_id,
                content=content,
                keep_read_button=workflow.info().workflow_id if keep_read_button else None,
            )
            await self._activity(EDIT_NOTIFICATION, edit, "edit notification")

    async def _dm_sender(self, content: str) -> None:
        await self._activity(
            DM_SENDER, SenderNotice(sender_id=self._spec.sender_id, content=content), "DM sender"
        )

    # --- bookkeeping ----------------------------------------------------------------------

    def _finish(self, outcome: WhisperOutcome, reason: str | None = None) -> WhisperResult:
        self._state = outcome
        self._show()
        record_outcome(WHISPER_OUTCOMES[outcome])
        return WhisperResult(
            outcome=outcome,
            at=workflow.now(),
            read_at=self._read_at,
            reason=reason,
            cancellation=self._cancellation,
        )

    def _show(self) -> None:
        """Current details for the Web UI: the state and its times, never the text."""
        lines = [f"**{self._state}** · whisper in <#{self._spec.channel_id}>", f"sent {when(self._sent_at)}"]
        if self._read_at is not None:
            lines.append(f"first read {when(self._read_at)}")
            lines.append(f"readable again until {when(self._read_at + self._spec.reread_window)}")
        elif self._state in ("posting", "unread"):
            lines.append(f"expires {when(self._expires_at)}")
        if self._cancellation is not None:
            who = {
                "unsend": "unsent by the sender",
                "operator": f"cancelled by operator {self._cancellation.by}",
            }
            line = who.get(self._cancellation.via, "cancelled through Temporal")
            if self._cancellation.reason and self._cancellation.via == "operator":
                line += f": {self._cancellation.reason}"
            lines.append(line)
        workflow.set_current_details("\n".join(lines))
