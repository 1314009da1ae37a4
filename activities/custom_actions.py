"""The `execute_custom_action` action: run a Custom Action for a user at its scheduled time.

It reads the definition as it is at the deadline (an edit after scheduling counts; a deleted
action ends the job, non-retryable, with the reason), evaluates it for the user, applies its
currency once (clients.custom_actions.run_once: a retry finds its markers), and posts the result
through the channel's kept webhook under the action's name.

Posted once: each channel has one webhook the bot keeps ("Scheduled Actions"; a post sets its
own name), so nothing temporary exists to leak and a channel's 15 webhooks are not used up. A
webhook post has no nonce, so each post carries a marker instead, the id of its first component
(derived from the workflow, run and activity ids), and is sent once, never resent by discord.py
on a 5xx. A retry first reads the channel's history since the first attempt for a webhook post
with its marker: found, it is the post (Discord took it, the answer was lost or the worker died).

A run that may pay makes sure of its channel and webhook before it pays, so Unknown Channel or
Missing Permissions fail it with nothing paid; a post refused after paying says in its failure
(the job's notice) what was paid.

CastBot treated a successful result as an error and never posted it; here the result is
posted whenever there is something to show (tests/custom_actions: the regression test).
A fired job only runs the outcomes: it never arms the action again, whatever its settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Protocol

import discord
from discord.http import Route
from pydantic import JsonValue, ValidationError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.discord_rest import already_gone, discord_errors, execute_webhook_once, require_login
from clients.custom_actions import CustomActionError, CustomActions, paid_by, run_once
from clients.store import PersistentStore, StoreError, StoreLimitError
from components.custom_actions import ResultMessage, result_message
from stack.settings import DEFAULT_TASK_QUEUE
from workflows.custom_actions_models import (
    EXECUTE_CUSTOM_ACTION,
    CurrencyChange,
    ExecuteCustomActionPayload,
    change_line,
    needs_balance,
    needs_roles,
)
from workflows.jobs_models import ActionInput

DELETED = "CustomActionDeleted"
FALLBACK_WEBHOOK_NAME = "Scheduled Action"
# The webhook the bot keeps in each channel it posts scheduled results to.
KEPT_WEBHOOK_NAME = "Scheduled Actions"
UNKNOWN_WEBHOOK = 10015
V2 = 1 << 15
# A retry reads the history from the first attempt on, less this for Discord's clock and ours.
CLOCK_SKEW = timedelta(minutes=2)
# A post Discord did not answer is looked for and sent again in the same attempt after these
# pauses (seconds); then the attempt fails and the activity's retries go on.
POST_PAUSES = (1.0, 3.0)
# How much history a retry reads for its marker (pages of 100) before it gives up as unsure.
HISTORY_PAGES = 50
# Markers stay clear of the small ids Discord gives the components that carry none.
MARKER_FLOOR = 1 << 20


def header_line(user_id: int, name: str) -> str:
    """The first line of every scheduled result: whose scheduled action this is."""
    return f"⏰ <@{user_id}>'s scheduled action **{name}**"


def webhook_name(name: str) -> str:
    # Discord refuses webhook names containing "discord" or "clyde".
    if re.search("discord|clyde", name, re.IGNORECASE):
        return FALLBACK_WEBHOOK_NAME
    return name[:80] or FALLBACK_WEBHOOK_NAME


def post_marker(*parts: str) -> int:
    """The post's marker: the same on every attempt of one activity, a 31-bit component id."""
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")
    return MARKER_FLOOR + digest % (2**31 - MARKER_FLOOR)


def marked_components(message: ResultMessage, marker: int) -> list[dict[str, Any]]:
    """The result as Components V2 (plain text as one text display, which reads the same), its
    first component carrying the marker."""
    view = message.view
    if view is None:
        view = discord.ui.LayoutView(timeout=None)
        view.add_item(discord.ui.TextDisplay(message.content or ""))
    components: list[dict[str, Any]] = view.to_components()  # type: ignore[no-untyped-call]
    components[0]["id"] = marker
    return components


def saying_what_was_paid(err: ApplicationError, changes: list[CurrencyChange]) -> ApplicationError:
    """The run's failure, which the job's notice shows, with what the run had paid."""
    paid = ", ".join(change_line(c) for c in changes)
    return ApplicationError(
        f"{err.message}; its currency was paid all the same: {paid}",
        *err.details,
        type=err.type,
        non_retryable=True,
    )


def _code(err: ApplicationError) -> object:
    details = err.details[0] if err.details else None
    return details.get("code") if isinstance(details, dict) else None


class CustomActionDiscord(Protocol):
    """What the activity needs from Discord (tests hand in a double)."""

    async def member_roles(self, guild_id: int, user_id: int) -> list[int]: ...

    async def prepare(self, channel_id: int) -> None:
        """Make sure the channel can take the post (its webhook exists), before anything is paid."""

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

    async def prepare(self, channel_id: int) -> None:
        await self._webhook(channel_id)

    async def post(self, channel_id: int, name: str, message: ResultMessage, mention: int) -> int:
        """Post once through the channel's kept webhook. When Discord may have taken it (an earlier
        attempt, or a 5xx or no answer now), look for its marker before sending it again."""
        webhook_id, token = await self._webhook(channel_id)
        info = activity.info()
        marker = post_marker(info.workflow_id or "", info.workflow_run_id or "", info.activity_id)
        components = marked_components(message, marker)
        payload = {
            "username": webhook_name(name),
            "components": components,
            "flags": V2,
            "allowed_mentions": {"parse": [], "users": [str(mention)]},
        }
        look = info.attempt > 1
        for pause in (*POST_PAUSES, None):
            if look:
                found = await self._find(channel_id, components[0], info.scheduled_time - CLOCK_SKEW)
                if found is not None:
                    return found
            try:
                sent = await execute_webhook_once(self._client, webhook_id, token, payload)
            except ApplicationError as err:
                if _code(err) == UNKNOWN_WEBHOOK:
                    # Deleted by an admin, or as another worker's duplicate: nothing was posted.
                    raise ApplicationError(
                        f"the channel's webhook went away before the post: {err.message}", type="WebhookGone"
                    ) from err
                if err.non_retryable or pause is None:
                    raise
            else:
                return int(sent["id"])
            look = True
            activity.heartbeat("Discord did not answer the post")
            await asyncio.sleep(pause)
        raise AssertionError("unreachable: the last try returns or raises")

    async def _webhook(self, channel_id: int) -> tuple[int, str]:
        """The channel's kept webhook, created if there is none. A create whose answer was lost
        (discord.py resends it on a 5xx) or that raced another's leaves two: the oldest is kept and
        the others deleted. Listed on every use, not remembered, so whichever post comes next
        deletes what a failed delete left, in any process: at rest a channel holds one of ours."""
        require_login(self._client)
        ours = await self._ours(channel_id)
        if not ours:
            with discord_errors():
                await self._client.http.create_webhook(channel_id, name=KEPT_WEBHOOK_NAME)
            ours = await self._ours(channel_id)
            if not ours:
                raise ApplicationError("the new webhook is not listed yet", type="DiscordUnavailable")
        kept, *extra = ours
        for webhook_id, _ in extra:
            await self._delete(webhook_id)
        return kept

    async def _ours(self, channel_id: int) -> list[tuple[int, str]]:
        """The kept webhooks of this application in the channel, oldest first."""
        with discord_errors():
            listed = await self._client.http.channel_webhooks(channel_id)
        user = self._client.user
        app = str(self._client.application_id or (user.id if user else "no application"))
        return sorted(
            (int(w["id"]), str(w["token"]))
            for w in listed
            if w.get("name") == KEPT_WEBHOOK_NAME and str(w.get("application_id")) == app and w.get("token")
        )

    async def _find(self, channel_id: int, first: dict[str, Any], since: datetime) -> int | None:
        """An earlier attempt's post: a webhook message since `since` whose first component is
        `first` (marker and text)."""
        after = discord.utils.time_snowflake(since)
        for _ in range(HISTORY_PAGES):
            activity.heartbeat("looking for an earlier attempt's post")
            try:
                with discord_errors():
                    page = await self._client.http.logs_from(channel_id, 100, after=after)
            except ApplicationError as err:
                if not err.non_retryable:
                    raise
                raise ApplicationError(
                    f"could not read the channel's history to tell whether an earlier attempt posted "
                    f"the result ({err.message}), so it was not posted again",
                    *err.details,
                    type=err.type,
                    non_retryable=True,
                ) from err
            for message in page:
                shown: list[dict[str, Any]] = list(message.get("components") or [])  # type: ignore[arg-type]
                if message.get("webhook_id") and shown and _same(shown[0], first):
                    return int(message["id"])
            if len(page) < 100:
                return None
            after = max(int(message["id"]) for message in page)
        raise ApplicationError(
            f"could not tell whether an earlier attempt posted the result: over "
            f"{HISTORY_PAGES * 100:,} messages came since, so it was not posted again",
            type="PostUnknown",
            non_retryable=True,
        )

    async def _delete(self, webhook_id: int) -> None:
        try:
            with discord_errors():
                await self._client.http.request(
                    Route("DELETE", "/webhooks/{webhook_id}", webhook_id=webhook_id)
                )
        except ApplicationError as err:
            if not already_gone(err):
                raise


def _same(component: dict[str, Any], first: dict[str, Any]) -> bool:
    return component.get("id") == first["id"] and component.get("content") == first.get("content")


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
            safari = await self._actions.safari(payload.guild_id)
            if needs_balance(definition):
                await self._prepare(safari, payload.channel_id, run_id)
            activity.heartbeat("evaluating")
            evaluation = await run_once(
                safari, definition, payload.user_id, roles, run_id, is_over=self._actions.run_over
            )
        except StoreLimitError as err:
            # A full store stays full: retrying for days would change nothing.
            raise ApplicationError(
                "the Safari's records are full, so nothing was paid or posted",
                type=type(err).__name__,
                non_retryable=True,
            ) from err
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
        header = header_line(payload.user_id, definition.name)
        if action.late_note:
            header += f"\n-# {action.late_note}"
        message = result_message(header, evaluation.blocks)
        try:
            message_id = await self._discord.post(
                payload.channel_id, definition.name, message, payload.user_id
            )
        except ApplicationError as err:
            if not (err.non_retryable and evaluation.changes):
                raise
            raise saying_what_was_paid(err, evaluation.changes) from err
        result.update(posted=True, message_id=str(message_id))
        return result

    async def _prepare(self, safari: PersistentStore, channel_id: int, run_id: str) -> None:
        """A gone channel or a missing permission fails the run here, before it pays; a retry of
        a run that paid before the channel went says what it paid."""
        try:
            await self._discord.prepare(channel_id)
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            paid = await paid_by(safari, run_id)
            if not paid:
                raise
            raise saying_what_was_paid(err, paid) from err
