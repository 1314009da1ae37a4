"""discord.py's REST client as the activities use it: logged in (in the background), no gateway.

Every call goes through `discord_errors()`, which sorts Discord's answers into what Temporal
should retry (5xx, 429, network) and what it must not (Unknown Channel, Missing Permissions,
invalid bodies), so a job ends failed with Discord's reason instead of retrying for an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
from discord.http import Route, json_or_text
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from stack.discord_api import point_at
from stack.telemetry import DISCORD_ERRORS, POSTS, count_in_activity

log = logging.getLogger(__name__)

NO_TOKEN = "this worker has no DISCORD_TOKEN"
# Retries of the background login: doubling from the first, up to the second (seconds).
LOGIN_BACKOFF = (1.0, 60.0)

# Discord accepts a nonce of at most 25 characters.
NONCE_LENGTH = 25
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def activity_nonce(*parts: str) -> str:
    """A message nonce that is the same on every retry of this activity and on no other.

    Derived from workflow id, run id and activity id (local activities number theirs in
    replay-stable order), so Discord answers a retried post with the first message.
    """
    if not parts:
        info = activity.info()
        parts = (info.workflow_id or "", info.workflow_run_id or "", info.activity_id)
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:16], "big")
    chars: list[str] = []
    while digest and len(chars) < NONCE_LENGTH:
        digest, rem = divmod(digest, 36)
        chars.append(_ALPHABET[rem])
    return "".join(chars)


def _rejection(err: discord.HTTPException) -> ApplicationError:
    what = err.text or err.response.reason or "no reason given"
    return ApplicationError(
        f"Discord refused ({err.status}, code {err.code}): {what}",
        {"status": err.status, "code": err.code},
        type="DiscordRejected",
        non_retryable=True,
    )


@contextmanager
def discord_errors() -> Iterator[None]:
    """Re-raise Discord failures as retryable or non-retryable activity errors (each counted in
    the `discord_errors` metric by its type)."""
    try:
        yield
    except discord.HTTPException as err:
        if err.status == 429 or err.status >= 500:
            raise _counted(
                ApplicationError(
                    f"Discord is unavailable ({err.status}): {err.text or 'no body'}",
                    type="DiscordUnavailable",
                )
            ) from err
        raise _counted(_rejection(err)) from err
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        raise _counted(ApplicationError(f"cannot reach Discord: {err!r}", type="DiscordUnreachable")) from err


def _counted(err: ApplicationError) -> ApplicationError:
    count_in_activity(DISCORD_ERRORS, "Discord failures by kind", kind=err.type or "unknown")
    return err


# Discord's "already gone" answers: deleting or editing such a thing is done, not failed.
GONE_CODES = frozenset({10003, 10008, 10015})  # Unknown Channel, Unknown Message, Unknown Webhook


def already_gone(err: ApplicationError) -> bool:
    """Whether a rejection from `discord_errors()` says the target no longer exists (404)."""
    details = err.details[0] if err.details else None
    return isinstance(details, dict) and (details.get("status") == 404 or details.get("code") in GONE_CODES)


# Requests that post a message: to a channel, or through a webhook (execute).
_POST_PATH = re.compile(r"/channels/\d+/messages$|/webhooks/\d+/[^/]+$")


async def _on_request_end(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    del session, context
    if params.method == "POST" and params.response.status < 300 and _POST_PATH.search(params.url.path):
        count_in_activity(POSTS, "messages Discord accepted")


def _post_counter() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    return trace


# One webhook execute waits this long for Discord's answer.
EXECUTE_TIMEOUT = 10.0
# Wait for the message (its id is the answer); components even on a webhook a user made.
EXECUTE_PARAMS = {"wait": "true", "with_components": "true"}
# A rate-limited execute is sent again this often, if Discord asks to wait at most this long (s).
RATE_LIMITED_TRIES, MAX_RETRY_AFTER = 5, 10.0


async def execute_webhook_once(
    client: discord.Client, webhook_id: int, token: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Post through a webhook with wait=true, never sending again what Discord may have taken.

    discord.py resends a webhook execute on a 5xx by itself (its HTTP client and its webhook
    adapter alike), and a webhook post has no nonce: a resend of a post Discord took is a second
    post. So this sends plain requests: again only after a 429 (Discord took nothing; it waits
    the `retry_after` Discord asks, as discord.py would), and any other failure goes through
    `discord_errors()`, for the caller to find out whether Discord took the post before it
    tries again.
    """
    route = Route(
        "POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=webhook_id, webhook_token=token
    )
    timeout = aiohttp.ClientTimeout(total=EXECUTE_TIMEOUT)
    headers = {"User-Agent": client.http.user_agent}
    with discord_errors():
        async with aiohttp.ClientSession(trace_configs=[_post_counter()], timeout=timeout) as session:
            for _ in range(RATE_LIMITED_TRIES):
                async with session.post(
                    route.url, params=EXECUTE_PARAMS, json=payload, headers=headers
                ) as response:
                    data = await json_or_text(response)
                    if 200 <= response.status < 300 and isinstance(data, dict):
                        return data
                    wait = data.get("retry_after") if isinstance(data, dict) else None
                    if response.status != 429 or not isinstance(wait, int | float) or wait > MAX_RETRY_AFTER:
                        raise discord.HTTPException(response, data)
                await asyncio.sleep(wait)
            raise discord.HTTPException(response, data)


class RestClient(discord.Client):
    """A discord.py client for REST calls only, which knows whether its login has succeeded and
    counts the messages it posts (`discord_posts`)."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.none(), http_trace=_post_counter())
        self.logged_in = False
        # What a post made now would wait for; shown in the activity's failure.
        self.waiting_for = NO_TOKEN


def require_login(client: discord.Client) -> None:
    """Refuse a Discord call before login with a retryable error.

    BENIGN: the SDK logs it at debug level, so an outage or a worker without a token does not
    print a traceback on every retry; the activity's failure still says what it waits for.
    """
    if isinstance(client, RestClient):
        if client.logged_in:
            return
        reason = client.waiting_for
    elif client.http.token is not None:
        return
    else:
        reason = NO_TOKEN
    kind = "DiscordNotConfigured" if reason == NO_TOKEN else "DiscordNotLoggedIn"
    raise ApplicationError(reason, type=kind, category=ApplicationErrorCategory.BENIGN)


async def keep_logging_in(client: RestClient, token: str) -> None:
    """Log in, retrying through Discord outages until it works or Discord refuses the token."""
    delay, longest = LOGIN_BACKOFF
    while True:
        client.waiting_for = "logging in to Discord"
        try:
            await client.login(token)
        except discord.LoginFailure:
            client.waiting_for = "Discord refused this worker's DISCORD_TOKEN"
            log.error("Discord refused DISCORD_TOKEN: posts wait until a worker with a valid token runs")
            return
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as err:
            client.waiting_for = f"not logged in to Discord yet: {_short(err)}"
            log.warning("cannot log in to Discord (%s); retrying in %.0f s", _short(err), delay)
            # Every login opens a session; close this one so the next attempt starts clean.
            await client.http.close()
            client.http.connector = discord.utils.MISSING
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
        else:
            client.logged_in = True
            log.info("logged in to Discord as %s", client.user)
            return


def _short(err: BaseException) -> str:
    if isinstance(err, discord.HTTPException):
        return f"{err.status} {err.text or err.response.reason or ''}".strip()
    return repr(err)


@asynccontextmanager
async def rest_client(
    token: str | None, api_base: str | None = None, *, in_background: bool = False
) -> AsyncIterator[RestClient]:
    """A discord.py client for REST calls that never opens the gateway.

    By default it is logged in when handed out (a failed login raises). The worker asks for
    `in_background`: the client is handed out at once and logs in while Discord is reachable,
    so an outage never stops workflows that do not post. Until the login succeeds (forever,
    without a token) `require_login` makes every post fail retryably.
    """
    point_at(api_base)
    client = RestClient()
    login: asyncio.Task[None] | None = None
    token = token.strip() if token else None
    if not token:
        log.warning("DISCORD_TOKEN is not set: workflows run, but Discord posts wait and retry until it is")
    elif in_background:
        client.waiting_for = "logging in to Discord"
        login = asyncio.create_task(keep_logging_in(client, token))
    try:
        if token and login is None:
            await client.login(token)
            client.logged_in = True
        yield client
    finally:
        if login is not None:
            login.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await login
        await client.close()
