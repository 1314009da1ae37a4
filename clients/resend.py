"""Sending an update or a query again when the server turned it away before any worker saw it.

The server keeps at most 10 updates in flight per workflow and buffers only a few queries while
a workflow task runs; what it refuses then was never applied, so it is safe to send again, and
an update resent under the same id gets the first outcome back if it was applied after all.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

R = TypeVar("R")

# How long a refused call is sent again before its error reaches the caller.
BUSY_TIMEOUT = 60.0


def not_processed(cause: BaseException | None) -> bool:
    """The server's rejection of an update no worker got to see (not a validator's refusal)."""
    return "wasn't processed by worker" in str(cause)


def busy(err: RPCError) -> bool:
    return err.status == RPCStatusCode.RESOURCE_EXHAUSTED or (
        err.status == RPCStatusCode.UNAVAILABLE and "aborted" in err.message
    )


def timed_out(err: RPCError) -> bool:
    return err.status == RPCStatusCode.DEADLINE_EXCEEDED or (
        err.status == RPCStatusCode.CANCELLED and "Timeout expired" in err.message
    )


async def backoff(delay: float) -> float:
    """Wait about `delay` (jittered, so shards that collided do not collide again); the next."""
    await asyncio.sleep(delay * (0.5 + random.random()))
    return min(delay * 2, 2.0)


async def send_update(
    handle: WorkflowHandle[Any, Any],
    update: Any,
    request: Any,
    *,
    update_id: str,
    gate: Callable[[], asyncio.Semaphore],
    refusal: Callable[[BaseException | None], Exception],
    gone: Callable[[RPCError], Exception | None],
) -> Any:
    """Execute the update under `gate`, sending it again while the server turns it away unseen.
    A refusal by the workflow becomes `refusal(cause)`; an RPC error for which `gone` gives an
    exception (the workflow is over, say) becomes that."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.05
    while True:
        async with gate():
            try:
                return await handle.execute_update(update, request, id=update_id)
            except WorkflowUpdateFailedError as err:
                if not not_processed(err.cause) or time.monotonic() > deadline:
                    raise refusal(err.cause) from None
            except RPCError as err:
                if (missing := gone(err)) is not None:
                    raise missing from None
                if not busy(err) or time.monotonic() > deadline:
                    raise
        delay = await backoff(delay)


async def send_query(call: Callable[[], Awaitable[R]], *, gone: Callable[[RPCError], Exception | None]) -> R:
    """Run the query, sending it again while the server is busy or the worker answers late."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.05
    while True:
        try:
            return await call()
        except RPCError as err:
            if (missing := gone(err)) is not None:
                raise missing from None
            if not (busy(err) or timed_out(err)) or time.monotonic() > deadline:
                raise
        delay = await backoff(delay)
