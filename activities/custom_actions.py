"""The `execute_custom_action` action: run a Custom Action for a user at its scheduled time.

It reads the definition as it is at the deadline (an edit after scheduling counts; a deleted
action ends the job, non-retryable, with the reason), evaluates it for the user, applies its
currency once (clients.custom_actions.run_once: a retry finds its markers), and posts the result
through a temporary webhook named after the action, deleted afterwards (404 counts as deleted).

Once the result is posted, the activity does not fail over the webhook's delete (that retry
would post the result twice): the delete is retried inside the activity, then only logged.

CastBot treated a successful result as an error and never posted it; here the result is
posted whenever there is something to show (tests/custom_actions: the regression test).
A fired job only runs the outcomes: it never arms the action again, whatever its settings.

Remaining window (as for Safari results): a webhook post has no nonce, so a worker that dies
after Discord committed the post and before the activity completed posts it again on retry.
Balances are never affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Protocol

import discord
from discord.http import Route
from pydantic import JsonValue, ValidationError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.discord_rest import already_gone, discord_errors, require_login
from clients.custom_actions import CustomActionError, CustomActions, run_once
from clients.store import StoreError, StoreLimitError
from components.custom_actions import ResultMessage, result_message
from stack.settings import DEFAULT_TASK_QUEUE
from workflows.custom_actions_models import (
    EXECUTE_CUSTOM_ACTION,
    ExecuteCustomActionPayload,
    needs_roles,
)
from workflows.jobs_models import ActionInput

log = logging.getLogger(__name__)

DELETED = "CustomActionDeleted"
# Tries of the webhook's delete once the result is posted (about 30 s with backoff).
DELETE_TRIES = 6
FALLBACK_WEBHOOK_NAME = "Scheduled Action"


def header_line(user_id: int, name: str) -> str:
    """The first line of every scheduled result: whose scheduled action this is."""
    return f"⏰ <@{user_id}>'s scheduled action **{name}**"


def webhook_name(name: str) -> str:
    # Discord refuses webhook names containing "discord" or "clyde".
    if re.search("discord|clyde", name, re.IGNORECASE):
        return FALLBACK_WEBHOOK_NAME
    return name[:80] or FALLBACK_WEBHOOK_NAME


class CustomActionDiscord(Protocol):
    """What the activity needs from Discord (tests hand in a double)."""

    async def member_roles(self, guild_id: int, user_id: int) -> list[int]: ...

    async def post(self, channel_id: int, name: str, message: ResultMessage, mention: int) -> int: ...


class WebhookDiscord:
    """Discord through the worker's logged-in REST client."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def member_roles(self, guild_id: int, user_id: int) -> list[int]:
        require_login(self._client)
        try:
            with discord_errors():
                member = await self._client.http.get_member(guild_id, user_id)
        except ApplicationError as err:
            if already_gone(err):  # 404 Unknown Member
                return []  # left the server: holds no role
            raise
        return [int(role) for role in member.get("roles", [])]

    async def post(self, channel_id: int, name: str, message: ResultMessage, mention: int) -> int:
        """Create a webhook, post with wait=True, delete the webhook (even when the post failed)."""
        require_login(self._client)
        with discord_errors():
            data = await self._client.http.create_webhook(channel_id, name=webhook_name(name))
        webhook = discord.Webhook.partial(int(data["id"]), str(data["token"]), client=self._client)
        activity.heartbeat("webhook created")
        mentions = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(mention)])
        try:
            with discord_errors():
                if message.view is not None:
                    sent = await webhook.send(view=message.view, wait=True, allowed_mentions=mentions)
                else:
                    sent = await webhook.send(message.content or "", wait=True, allowed_mentions=mentions)
        except BaseException:
            with contextlib.suppress(Exception):  # the post's own error is the one to report
                await self._delete(webhook.id)
            raise
        await self._delete_after_post(webhook.id)
        return sent.id

    async def _delete_after_post(self, webhook_id: int) -> None:
        """The result is posted: failing now would post it again on retry. So a transient failure
        of the delete is retried here for a while, and then only logged (the webhook is left)."""
        delay = 1.0
        for attempt in range(DELETE_TRIES):
            try:
                await self._delete(webhook_id)
                return
            except ApplicationError as err:
                if err.non_retryable or attempt == DELETE_TRIES - 1:
                    log.warning("could not delete webhook %s after posting: %s", webhook_id, err)
                    return
            activity.heartbeat("deleting the webhook")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8.0)

    async def _delete(self, webhook_id: int) -> None:
        try:
            with discord_errors():
                await self._client.http.request(
                    Route("DELETE", "/webhooks/{webhook_id}", webhook_id=webhook_id)
                )
        except ApplicationError as err:
            if not already_gone(err):
                raise


class CustomActionActivities:
    def __init__(self, temporal: Client, task_queue: str, discord_side: CustomActionDiscord) -> None:
        self._actions = CustomActions(temporal, task_queue or DEFAULT_TASK_QUEUE)
        self._discord = discord_side

    @activity.defn(name=EXECUTE_CUSTOM_ACTION)
    async def execute_custom_action(self, action: ActionInput) -> dict[str, JsonValue]:
        try:
            payload = ExecuteCustomActionPayload.model_validate(action.payload)
        except ValidationError as err:
            raise ApplicationError(
                f"bad payload for {EXECUTE_CUSTOM_ACTION}: {err}", non_retryable=True
            ) from err
        if payload.guild_id != action.guild_id:
            raise ApplicationError("the payload names another server than the job", non_retryable=True)
        info = activity.info()
        # One id per execution of this job (a re-armed key is a new run): the currency markers'.
        run_id = f"{info.workflow_id}:{action.retry_of or info.workflow_run_id}"  # a Retry: the same
        try:
            definition = await self._actions.get(payload.guild_id, payload.action_id)
            if definition is None:
                raise ApplicationError(
                    f"the custom action {payload.action_name!r} was deleted before its scheduled run",
                    type=DELETED,
                    non_retryable=True,
                )
            roles = (
                await self._discord.member_roles(payload.guild_id, payload.user_id)
                if needs_roles(definition)
                else []
            )
            activity.heartbeat("evaluating")
            safari = await self._actions.safari(payload.guild_id)
            evaluation = await run_once(safari, definition, payload.user_id, roles, run_id)
        except StoreLimitError as err:
            # A full store stays full: retrying for days would change nothing.
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err
        except (StoreError, CustomActionError) as err:
            # The stores are workflows on this task queue (busy, or a worker restarting): retry.
            raise ApplicationError(f"the store refused: {err}", type=type(err).__name__) from err
        result: dict[str, JsonValue] = {
            "met": evaluation.met,
            "changes": [change.model_dump(mode="json") for change in evaluation.changes],
            "posted": False,
        }
        if not evaluation.blocks:
            return result  # a failed condition with no "not met" text posts nothing
        message = result_message(header_line(payload.user_id, definition.name), evaluation.blocks)
        message_id = await self._discord.post(payload.channel_id, definition.name, message, payload.user_id)
        result.update(posted=True, message_id=str(message_id))
        return result
