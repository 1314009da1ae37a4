"""discord.py's REST client as the activities use it: logged in, no gateway.

Every call goes through `discord_errors()`, which sorts Discord's answers into what Temporal
should retry (5xx, 429, network) and what it must not (Unknown Channel, Missing Permissions,
invalid bodies), so a job ends failed with Discord's reason instead of retrying for an hour.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import aiohttp
import discord
from temporalio import activity
from temporalio.exceptions import ApplicationError

from stack.discord_api import point_at

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
    """Re-raise Discord failures as retryable or non-retryable activity errors."""
    try:
        yield
    except discord.HTTPException as err:
        if err.status == 429 or err.status >= 500:
            raise ApplicationError(
                f"Discord is unavailable ({err.status}): {err.text or 'no body'}",
                type="DiscordUnavailable",
            ) from err
        raise _rejection(err) from err
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        raise ApplicationError(f"cannot reach Discord: {err!r}", type="DiscordUnreachable") from err


# Discord's "already gone" answers: deleting or editing such a thing is done, not failed.
GONE_CODES = frozenset({10003, 10008, 10015})  # Unknown Channel, Unknown Message, Unknown Webhook


def already_gone(err: ApplicationError) -> bool:
    """Whether a rejection from `discord_errors()` says the target no longer exists (404)."""
    details = err.details[0] if err.details else None
    return isinstance(details, dict) and (details.get("status") == 404 or details.get("code") in GONE_CODES)


def require_login(client: discord.Client) -> None:
    if client.http.token is None:
        raise ApplicationError("this worker has no DISCORD_TOKEN", type="DiscordNotConfigured")


@asynccontextmanager
async def rest_client(token: str | None, api_base: str | None = None) -> AsyncIterator[discord.Client]:
    """A discord.py client that is logged in for REST calls and never opens the gateway.

    Without a token it is not logged in, and `require_login` makes every post retry until a
    worker with a token takes over.
    """
    point_at(api_base)
    client = discord.Client(intents=discord.Intents.none())
    try:
        if token:
            await client.login(token)
        yield client
    finally:
        await client.close()
