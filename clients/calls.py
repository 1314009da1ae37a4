"""One way for a client to talk to a workflow: updates, queries and signals, each bounded in size
and in time, sent again when the server turned it away unseen, its refusals in the feature's words.

    calls = Calls(client, Refusals(refused=ChallengeError, over=lambda: ChallengeNotFound("...")))
    status = await calls.update(handle, ChallengeChainWorkflow.skip, request)

- **Size.** A request whose encoded payload is past what the server takes (`MAX_REQUEST_BYTES`,
  under its 2 MiB blob limit) can never succeed: it is refused before it is sent, with a message
  that names the limit. Sent, it failed badly: past 4 MiB the server refuses the message as
  RESOURCE_EXHAUSTED, which reads as "busy", so it was sent again for a minute; near or past
  2 MiB a worker takes the update but cannot answer it (its refusal carries the request back),
  and the workflow's task fails.
- **Time.** A call gets `CALL_TIMEOUT` in all, resends included; past it the feature's "not
  confirmed" error, since an update the server holds may still be applied when a worker returns.
  A caller that gives up first (`bot.replies.in_time`) sees its own cancellation.
- **Resends.** The server keeps at most 10 updates in flight per workflow and buffers only a few
  queries while a workflow task runs; what it refuses then was never applied, so it is safe to send
  again, and an update resent under its id gets the first outcome back if it was applied after all.
  A call that reached a run just as it continued as new (the server answers "not found", or ends
  the update unaccepted) is sent again to the run after it: every workflow here finishes the
  updates it accepted before it continues as new, so such a call was never applied.
- **Refusals.** A workflow says no with an `ApplicationError`; `Refusals` maps its type to the
  feature's error (each a `UserError` for what a user may see), and says what "the workflow is
  over" is in that feature's words.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from temporalio.api.common.v1 import Payloads
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from workflows.common import UserError

S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")

# The server's `limit.blobSize.error`, which the dev server and Temporal Cloud keep at the
# default of 2 MiB (DescribeNamespace reports it as `blob_size_limit_error`); the SDK logs a
# warning from 512 KiB.
BLOB_LIMIT = 2 * 1024 * 1024
# The most one request may carry. A workflow's refusal of an update carries the request back,
# with its failure (message and stack trace), in one message that must fit BLOB_LIMIT too: a
# 2,097,102-byte store write broke the store's workflow task (every call after it failed for
# a while); 4 KiB under the limit was enough, this leaves 64 KiB.
MAX_REQUEST_BYTES = BLOB_LIMIT - 64 * 1024
# How long one call may take, resends included.
CALL_TIMEOUT = 60.0
# The server's own failure types for an update: never seen by a worker (safe to send again),
# and accepted by a run that then closed.
UNPROCESSED = "UnprocessedUpdate"
OUTLIVED = "AcceptedUpdateCompletedWorkflow"

NOT_CONFIRMED = (
    "The game server has not answered (a worker may be restarting), so this is not confirmed. "
    "Check again in a minute before you try again."
)


class NotConfirmed(UserError):
    """No answer within the call's time: what was asked may still happen."""

    def __init__(self, message: str = NOT_CONFIRMED) -> None:
        super().__init__(message)


class TooLarge(UserError):
    """A request past the server's limit, refused before it was sent."""


@dataclass(frozen=True)
class Refusals:
    """How one feature's workflows say no, as that feature's errors."""

    # An ApplicationError of a type `kinds` does not name, with the workflow's message.
    refused: Callable[[str], Exception]
    # The workflow is over, or never ran (the default; a call may name its own).
    over: Callable[[], Exception]
    # ApplicationError type -> the feature's error for it.
    kinds: Mapping[str, Callable[[ApplicationError], Exception]] = field(default_factory=dict)
    # RPC statuses that mean the workflow takes no more calls.
    over_statuses: frozenset[RPCStatusCode] = frozenset({RPCStatusCode.NOT_FOUND})
    not_confirmed: Callable[[], Exception] = NotConfirmed
    # Given the sentence naming the limit; TooLarge when not given.
    too_large: Callable[[str], Exception] = TooLarge

    def of(self, cause: BaseException | None, over: Callable[[], Exception]) -> Exception:
        """The feature's error for the failure an update ended with."""
        if not isinstance(cause, ApplicationError) or cause.type == OUTLIVED:
            return over()  # ended by the workflow's end, not refused by it
        kind = self.kinds.get(cause.type or "")
        return kind(cause) if kind is not None else self.refused(cause.message)


def said(kind: Callable[[str], Exception]) -> Callable[[ApplicationError], Exception]:
    """A refusal kind built from the workflow's message alone."""
    return lambda cause: kind(cause.message)


def busy(err: RPCError) -> bool:
    """Turned away before any worker saw it: too many in flight, or caught by a continue-as-new.
    Not a message past the server's size limit, which is RESOURCE_EXHAUSTED too."""
    if err.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return "larger than max" not in err.message
    return err.status == RPCStatusCode.UNAVAILABLE and "aborted" in err.message


async def continued(handle: WorkflowHandle[Any, Any], err: Exception) -> bool:
    """Whether `err` is a call to the newest run caught by its continue-as-new, the workflow
    running on: "not found" (the time-skipping server, between the two runs), or an update the
    ended run never accepted. A handle bound to one run gets the run's own answer, and so does a
    call whose workflow ended for good: a new workflow under the same id (a keyed job's next run,
    the next season) starts a chain of its own, and the call was not meant for it."""
    if handle.run_id is not None:
        return False
    if isinstance(err, RPCError):
        caught = err.status == RPCStatusCode.NOT_FOUND
    else:
        cause = err.cause if isinstance(err, WorkflowUpdateFailedError) else None
        caught = isinstance(cause, ApplicationError) and cause.type == OUTLIVED
    if not caught:
        return False
    try:
        description = await handle.describe()
    except RPCError:
        return False
    info = description.raw_description.workflow_execution_info
    running = description.status == WorkflowExecutionStatus.RUNNING
    return running and info.first_run_id not in ("", info.execution.run_id)


def timed_out(err: RPCError) -> bool:
    return err.status == RPCStatusCode.DEADLINE_EXCEEDED or (
        err.status == RPCStatusCode.CANCELLED and "Timeout expired" in err.message
    )


async def backoff(delay: float) -> float:
    """Wait about `delay` (jittered, so shards that collided do not collide again); the next."""
    await asyncio.sleep(delay * (0.5 + random.random()))
    return min(delay * 2, 2.0)


class Calls:
    """One feature's calls to its workflows. `max_in_flight` / `max_queries_in_flight`: at most
    that many updates / queries of this object in flight at once (None: no bound here)."""

    def __init__(
        self,
        client: Client,
        refusals: Refusals,
        *,
        max_in_flight: int | None = None,
        max_queries_in_flight: int | None = None,
    ) -> None:
        self._client = client
        self.refusals = refusals
        self._limits = (max_in_flight, max_queries_in_flight)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gates: tuple[asyncio.Semaphore | None, asyncio.Semaphore | None] = (None, None)

    async def update(
        self,
        handle: WorkflowHandle[S, Any],
        update: UpdateMethodMultiParam[[S, P], R],
        request: P,
        *,
        over: Callable[[], Exception] | None = None,
    ) -> R:
        """Execute the update; its refusal as the feature's error, `over` when the workflow is
        over (the feature's default if not given)."""
        await self.check_size(request)
        gone = over or self.refusals.over
        # One id for every try: a resend of an update the server already applied in this run
        # gets that outcome back instead of applying it again.
        update_id = f"{getattr(update, '__name__', 'update')}-{uuid.uuid4().hex}"

        async def attempt() -> R:
            result: R = await handle.execute_update(update, request, id=update_id)
            return result

        def settle(err: Exception) -> Exception | None:
            if isinstance(err, WorkflowUpdateFailedError):
                cause = err.cause
                unseen = isinstance(cause, ApplicationError) and cause.type == UNPROCESSED
                return None if unseen else self.refusals.of(cause, gone)
            return self._rpc(err, gone, resend=busy)

        return await self._bounded(handle, attempt, settle, self._gate(0))

    @overload
    async def query(
        self,
        handle: WorkflowHandle[S, Any],
        query: Callable[[S], R] | Callable[[S], Awaitable[R]],
        *,
        over: Callable[[], Exception] | None = None,
        failed: Callable[[], Exception] | None = None,
    ) -> R: ...

    @overload
    async def query(
        self,
        handle: WorkflowHandle[S, Any],
        query: Callable[[S, P], R] | Callable[[S, P], Awaitable[R]],
        arg: P,
        /,
        *,
        over: Callable[[], Exception] | None = None,
        failed: Callable[[], Exception] | None = None,
    ) -> R: ...

    async def query(
        self,
        handle: WorkflowHandle[Any, Any],
        query: Callable[..., Any],
        *args: Any,
        over: Callable[[], Exception] | None = None,
        failed: Callable[[], Exception] | None = None,
    ) -> Any:
        """Run the query, sent again while the server is busy or the worker answers late.
        `failed`: the error for a query the workflow could not answer (raised as is if None)."""
        await self.check_size(*args)
        gone = over or self.refusals.over

        async def attempt() -> Any:
            return await handle.query(query, *args)

        def settle(err: Exception) -> Exception | None:
            if isinstance(err, WorkflowQueryFailedError):
                return failed() if failed is not None else err
            return self._rpc(err, gone, resend=lambda e: busy(e) or timed_out(e))

        return await self._bounded(handle, attempt, settle, self._gate(1))

    async def signal(
        self,
        handle: WorkflowHandle[Any, Any],
        signal: str | Callable[..., Any],
        arg: Any,
        *,
        over: Callable[[], Exception] | None = None,
    ) -> None:
        """Send the signal, sent again while the server turns it away as busy."""
        await self.check_size(arg)
        gone = over or self.refusals.over

        async def attempt() -> None:
            await handle.signal(signal, arg)

        await self._bounded(handle, attempt, lambda err: self._rpc(err, gone, resend=busy), None)

    async def check_size(self, *args: Any) -> None:
        """Refuse, before sending, arguments past the server's limit (as the codec encodes them)."""
        if not args:
            return
        encoded = await self._client.data_converter.encode(list(args))
        size = Payloads(payloads=encoded).ByteSize()
        if size > MAX_REQUEST_BYTES:
            raise self.refusals.too_large(
                f"this is {size:,} bytes; one request may carry at most {MAX_REQUEST_BYTES:,} bytes "
                f"(the server takes {BLOB_LIMIT // (1024 * 1024)} MiB at once, answer included)"
            )

    # --- plumbing -------------------------------------------------------------------------------

    def _rpc(
        self, err: Exception, gone: Callable[[], Exception], *, resend: Callable[[RPCError], bool]
    ) -> Exception | None:
        """An RPC error as the feature's error, None to send again, or the error itself."""
        if not isinstance(err, RPCError):
            return err
        if err.status in self.refusals.over_statuses:
            return gone()
        return None if resend(err) else err

    async def _bounded(
        self,
        handle: WorkflowHandle[Any, Any],
        attempt: Callable[[], Awaitable[R]],
        settle: Callable[[Exception], Exception | None],
        gate: asyncio.Semaphore | None,
    ) -> R:
        """`attempt` until it succeeds or `settle` gives an error for its failure (None: again),
        within CALL_TIMEOUT."""
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                delay = 0.05
                while True:
                    try:
                        if gate is None:
                            return await attempt()
                        async with gate:
                            return await attempt()
                    except (WorkflowUpdateFailedError, WorkflowQueryFailedError, RPCError) as err:
                        error = None if await continued(handle, err) else settle(err)
                        if error is err:
                            raise
                        if error is not None:
                            raise error from None
                    delay = await backoff(delay)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            # The SDK turns a cancelled update into its own error: a caller that gave up must
            # see its cancellation again, or its timeout never becomes "not answered".
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError() from None
            raise self.refusals.not_confirmed() from None

    def _gate(self, which: int) -> asyncio.Semaphore | None:
        """The updates' (0) or queries' (1) semaphore, made again for each event loop."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            made = tuple(None if n is None else asyncio.Semaphore(n) for n in self._limits)
            self._gates = (made[0], made[1])
        return self._gates[which]
