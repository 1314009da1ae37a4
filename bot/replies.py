"""Answering interactions: one place that knows whether to respond or follow up, and the
error path every handler shares.

App command errors reach `GameTree.on_error`; exceptions inside a `DynamicItem` callback or a
listener never do (discord.py logs and drops them), so those callbacks are wrapped with
`guarded`, which answers the user and logs the traceback the same way (the modal router,
`bot/modals.py`, sends its handlers' exceptions to `report_error` itself).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import discord
from discord import app_commands
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from bot.metrics import record_error, record_outcome
from bot.options import UnreadableOptions
from workflows.common import UserError

log = logging.getLogger("bot.errors")

GENERIC_FAILURE = "Something went wrong on our side; it has been logged. Please try again in a moment."
# Updates and queries wait for a worker. Past this the user is told, and promised nothing: a
# request the server holds may still be applied when a worker returns.
WORKER_WAIT = 10.0
NOT_ANSWERED = (
    "⏳ The game server has not answered yet (a worker may be restarting), so this is not confirmed. "
    "Check again in a minute before you try again."
)


class NotAnswered(UserError):
    def __init__(self) -> None:
        super().__init__(NOT_ANSWERED)


async def in_time(awaitable: Awaitable[T], seconds: float = WORKER_WAIT) -> T:
    """Await a call that needs a worker (after the interaction is acknowledged); NotAnswered,
    which the error path answers, when no worker answers in time."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # An update cancelled by the timeout (or whose own RPC gave up first) surfaces as the
        # SDK's error, not as TimeoutError.
        raise NotAnswered() from None


P = ParamSpec("P")
S = TypeVar("S")
T = TypeVar("T")


async def reply(interaction: discord.Interaction[Any], content: str, *, ephemeral: bool = True) -> None:
    """Send `content` as the answer, or as a follow-up when the interaction is already answered."""
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=ephemeral)
    else:
        await interaction.response.send_message(content, ephemeral=ephemeral)


def user_message(error: BaseException) -> str | None:
    """The text to show the user for an error we expect, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This only works inside a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You are not allowed to do that."
    if isinstance(error, app_commands.TransformerError):
        return f"That value is not valid: {str(error.value)[:100]!r}."
    if isinstance(error, UnreadableOptions):
        return str(error)
    return None


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Answer the user with a short ephemeral line; log the traceback for anything unexpected."""
    message = user_message(error)
    record_error(interaction, error, expected=message is not None)
    if message is None:
        where = interaction.command.qualified_name if interaction.command else interaction.data
        log.error("interaction %s failed (%s)", interaction.id, where, exc_info=error)
        message = GENERIC_FAILURE
    try:
        await reply(interaction, message, ephemeral=True)
    except discord.HTTPException:
        # The token expired or Discord is failing: nothing more we can tell the user.
        log.warning("could not tell the user about the failure of interaction %s", interaction.id)


async def answer_unanswered(interaction: discord.Interaction[Any]) -> None:
    """A handler that returned without answering is a bug: log it and still answer the user."""
    if interaction.response.is_done() or interaction.command_failed:
        return
    where = interaction.command.qualified_name if interaction.command else interaction.data
    log.error("interaction %s (%s) was not answered by its handler", interaction.id, where)
    try:
        await reply(interaction, GENERIC_FAILURE)
    except discord.HTTPException:
        log.warning("could not answer interaction %s", interaction.id)


def guarded(
    callback: Callable[Concatenate[S, discord.Interaction[Any], P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[S, discord.Interaction[Any], P], Coroutine[Any, Any, None]]:
    """Wrap a component, modal or listener callback so that an exception answers the user."""

    @functools.wraps(callback)
    async def wrapper(
        self: S, interaction: discord.Interaction[Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        try:
            await callback(self, interaction, *args, **kwargs)
        except Exception as error:
            await report_error(interaction, error)
        else:
            record_outcome(interaction, "ok")

    return wrapper
