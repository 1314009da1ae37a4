"""Drive a FakeDiscord running in another process through its /_fake control API."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp

from .models import FakeMessage, FakeWebhook, Fault, RecordedRequest, Violation
from .rest import API_PREFIX


class FakeDiscordRemote:
    """Async mirror of FakeDiscord's test API. ``base_url`` is the fake's base_url (…/api/v10) or root."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url.removesuffix(API_PREFIX)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeDiscordRemote:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, f"{self.url}/_fake{path}", json=json, params=params) as resp:
            resp.raise_for_status()
            return None if resp.status == 204 else await resp.json()

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/health")
        return result

    async def bot_user_id(self) -> int:
        return int((await self.health())["bot_user_id"])

    async def messages(
        self, channel_id: int | None = None, include_deleted: bool = False
    ) -> list[FakeMessage]:
        params = {"include_deleted": str(include_deleted).lower()}
        if channel_id is not None:
            params["channel_id"] = str(channel_id)
        return [FakeMessage(**m) for m in await self._call("GET", "/messages", params=params)]

    async def dms(self, user_id: int, include_deleted: bool = False) -> list[FakeMessage]:
        params = {"include_deleted": str(include_deleted).lower()}
        return [FakeMessage(**m) for m in await self._call("GET", f"/dms/{user_id}", params=params)]

    async def requests(
        self, method: str | None = None, path_regex: str | None = None
    ) -> list[RecordedRequest]:
        params = {k: v for k, v in (("method", method), ("path_regex", path_regex)) if v is not None}
        return [RecordedRequest(**r) for r in await self._call("GET", "/requests", params=params)]

    async def violations(self) -> list[Violation]:
        return [Violation(**v) for v in await self._call("GET", "/violations")]

    async def assert_no_violations(self) -> None:
        violations = await self.violations()
        if violations:
            lines = "\n".join(f"  {v}" for v in violations)
            raise AssertionError(f"{len(violations)} Discord API violation(s):\n{lines}")

    async def webhooks(self) -> list[FakeWebhook]:
        return [FakeWebhook(**w) for w in await self._call("GET", "/webhooks")]

    async def add_webhook(self, channel_id: int, name: str = "Captain Hook") -> FakeWebhook:
        """A webhook a user made (not owned by the bot's application)."""
        return FakeWebhook(
            **await self._call("POST", "/webhooks", json={"channel_id": channel_id, "name": name})
        )

    async def faults(self) -> list[Fault]:
        return [Fault(**f) for f in await self._call("GET", "/faults")]

    async def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        code: int | None = None,
        message: str | None = None,
        lose_response: bool = False,
    ) -> Fault:
        args = {"method": method, "path_regex": path_regex, "status": status, "times": times}
        args |= {"retry_after": retry_after, "code": code, "message": message, "lose_response": lose_response}
        return Fault(**await self._call("POST", "/faults", json=args))

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def add_channel(self, channel_id: int, guild_id: int, name: str = "general") -> None:
        await self._call(
            "POST", "/channels", json={"channel_id": channel_id, "guild_id": guild_id, "name": name}
        )

    async def remove_channel(self, channel_id: int) -> None:
        await self._call("DELETE", f"/channels/{channel_id}")

    async def close_dms(self, user_id: int) -> None:
        await self._call("POST", "/closed_dms", json={"user_id": user_id})

    async def reset(self) -> None:
        await self._call("POST", "/reset")
