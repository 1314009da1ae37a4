"""An in-memory Discord REST API (the subset the worker uses) that discord.py really talks HTTP to."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, web

from . import rules
from .gateway import Gateway, Session
from .interactions import Interaction, Interactions
from .models import FakeMessage, FakeWebhook, Fault, RecordedRequest, Violation
from .openapi import FieldError, invalid_form_body, load_spec, template_regex
from .world import BOT_PERMISSIONS, Guild, Role, User

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
BOT_CONTENT_LIMIT = 2000  # the spec says 4000 (Nitro users); bots are held to 2000
_SUPPRESS_EMBEDS, _COMPONENTS_V2 = 1 << 2, rules.COMPONENTS_V2
# Reported on every response, per bucket and major parameter (channel, guild or webhook), as Discord does;
# without them discord.py keeps each bucket at its initial limit of 1 and sends one request at a time.
RATE_LIMIT, RATE_WINDOW = 50, 1.0
NONCE_WINDOW = 300.0  # Discord dedupes enforce_nonce nonces for a few minutes, not forever
MAX_CHANNEL_WEBHOOKS = 15  # past this, creating one answers 400 code 30007
_MAJOR_PARAMS = ("channel_id", "guild_id", "webhook_id", "webhook_token")

# Lists a guild carries in the gateway's GUILD_CREATE only.
_GATEWAY_LISTS = (
    "threads",
    "presences",
    "voice_states",
    "stage_instances",
    "guild_scheduled_events",
    "soundboard_sounds",
)

ERROR_TEXT = {
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    30007: "Maximum number of webhooks reached (15)",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50006: "Cannot send an empty message",
    50007: "Cannot send messages to this user",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
    50109: "The request body contains invalid JSON.",
}
_RECORDED_HEADERS = ("authorization", "content-type", "user-agent", "x-audit-log-reason")

Reply = tuple[int, Any]  # status, JSON body (None for an empty 204)


class DiscordError(Exception):
    """Raised by handlers; becomes Discord's ``{"message", "code"}`` error response."""

    def __init__(self, status: int, code: int = 0, message: str | None = None, **extra: Any) -> None:
        super().__init__(status, code)
        self.status = status
        self.body: dict[str, Any] = {
            "message": message or _default_message(status, code),
            "code": code,
            **extra,
        }
        self.headers: dict[str, str] = {}


def _default_message(status: int, code: int) -> str:
    if code in ERROR_TEXT:
        return ERROR_TEXT[code]
    try:
        return f"{status}: {HTTPStatus(status).phrase}"
    except ValueError:  # e.g. Cloudflare's 524
        return f"{status}: Error"


def _form_error(field: str, code: str, message: str) -> DiscordError:
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return DiscordError(400, 50035, errors=errors)


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        raise DiscordError(400, **invalid_form_body(errors))


def _truthy(raw: str | None) -> bool:
    return (raw or "").lower() in ("1", "true")


class Hold:
    """Keeps matching API requests waiting at the fake until released; counts how many got there.

    Requests held at once are requests the client had in flight at once, which is how a test can see
    whether discord.py serialises a bucket without timing anything. With ``after_effect`` a request
    takes effect first and only its answer waits: Discord took it, the client has not heard yet.
    """

    def __init__(self, method: str, path_regex: str, *, after_effect: bool = False) -> None:
        self.method, self.path_regex = method.upper(), re.compile(path_regex)
        self.after_effect = after_effect
        self.arrived = 0
        self._open = asyncio.Event()
        self._changed = asyncio.Condition()

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path_regex.search(path) is not None

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Return once ``count`` requests are being held; TimeoutError if they never all arrive."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.arrived >= count)

    def release(self) -> None:
        self._open.set()

    async def _enter(self) -> None:
        async with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        await self._open.wait()


@dataclass
class _Channel:
    id: int
    guild_id: int | None
    name: str
    type: int  # 0 guild text, 1 DM
    recipient_id: int | None = None


@dataclass
class _Call:
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    files: list[dict[str, Any]]
    raw: Any = None  # the JSON body as sent (a list for bulk command overwrites)

    def int_param(self, name: str) -> int:
        return int(self.params[name])


Handler = Callable[[_Call], Reply]


def _snowflake_time(snowflake: int) -> str:
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC).isoformat()


def _json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    # Exactly "application/json" (no charset): discord.py only parses JSON when the header equals that.
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers
    )


class FakeDiscord:
    """Discord's REST API for guild text channels, DMs, messages and webhooks, plus a /_fake control API.

    Use ``async with FakeDiscord() as fake:`` and point discord.py at it with
    ``discord.http.Route.BASE = fake.base_url``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_user_id: int = 1_100_000_000_000_000_001,
        bot_name: str = "FakeBot",
        validate: bool = True,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
        nonce_window: float = NONCE_WINDOW,
        rate_limit_headers: bool = True,
    ) -> None:
        """``clock`` (seconds) times the nonce window; ``rate_limit_headers=False`` only for tests of
        what discord.py does without them."""
        self._host, self._port = host, port
        self.bot_user_id, self.bot_name = bot_user_id, bot_name
        self.validate = validate
        self.token = token  # the bot token the gateway accepts; None accepts any
        self.clock, self.nonce_window = clock, nonce_window
        self.rate_limit_headers = rate_limit_headers
        self.rate_window = RATE_WINDOW  # seconds; a test may widen it so no window ends mid-test
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, str, re.Pattern[str], Handler, bool]] = []
        self._add_api_routes()
        self._app = web.Application(client_max_size=64 * 1024 * 1024)
        self._add_control_routes(self._app)
        self.gateway = Gateway(lambda: self.url, self._token_ok, self._ready_payload, self._guild_payloads)
        self.gateway.add_routes(self._app)
        self.extra_routes(self._app)
        self._app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._api)
        self._app.router.add_route("*", "/{tail:.*}", self._outside_api)
        self.reset()

    # ----- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The server root; /_fake lives here."""
        if self._runner is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What to assign to ``discord.http.Route.BASE``."""
        return self.url + API_PREFIX

    # ----- state set-up and inspection -------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every channel, message, webhook, request, violation and fault."""
        self._channels: dict[int, _Channel] = {}
        self._dm_channels: dict[int, int] = {}  # recipient id -> DM channel id
        self._closed_dms: set[int] = set()
        self._messages: dict[int, FakeMessage] = {}
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}  # -> (message id, first seen)
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}  # bucket -> (window start, count)
        self._holds: list[Hold] = []
        self._webhooks: dict[int, FakeWebhook] = {}
        self._requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self._faults: list[Fault] = []
        self._last_id = 0
        self._counter = 0
        self._guilds: dict[int, Guild] = {}
        self._users: dict[int, User] = {self.bot_user_id: User(self.bot_user_id, self.bot_name, bot=True)}
        self.interactions = Interactions(self)

    def add_channel(self, channel_id: int, guild_id: int, name: str = "general") -> None:
        self._channels[channel_id] = _Channel(channel_id, guild_id, name, 0)

    # ----- the world the gateway shows (guilds, roles, members) ------------------------------------------

    def extra_routes(self, app: web.Application) -> None:
        """Hook for a subclass to serve more on the same port (the playground's page)."""

    def changed(self) -> None:
        """Hook called after every API request that may have changed the world (the playground keeps it)."""

    def add_guild(self, guild_id: int, name: str, owner_id: int) -> Guild:
        """A guild the bot is in (with the bot as a member holding BOT_PERMISSIONS)."""
        guild = self._guilds[guild_id] = Guild(guild_id, name, owner_id)
        bot_role = self.add_role(guild_id, self.new_id(), self.bot_name, BOT_PERMISSIONS)
        guild.members[self.bot_user_id] = [bot_role.id]
        return guild

    def add_role(self, guild_id: int, role_id: int, name: str, permissions: int) -> Role:
        guild = self._guilds[guild_id]
        role = guild.roles[role_id] = Role(role_id, name, permissions, position=len(guild.roles))
        return role

    def add_member(self, guild_id: int, user_id: int, name: str, roles: list[int] | None = None) -> User:
        user = self._users.setdefault(user_id, User(user_id, name))
        self._guilds[guild_id].members[user_id] = list(roles or [])
        return user

    def guild(self, guild_id: int) -> Guild:
        return self._guilds[guild_id]

    def guilds(self) -> list[Guild]:
        return list(self._guilds.values())

    def user(self, user_id: int) -> User:
        return self._users.get(user_id) or User(user_id, f"user{user_id}")

    def channel_record(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise KeyError(f"no channel {channel_id}")
        return channel

    def channels(self, guild_id: int | None = None) -> list[_Channel]:
        return [c for c in self._channels.values() if guild_id is None or c.guild_id == guild_id]

    def dm_channel_for(self, user_id: int) -> int:
        """The user's DM channel with the bot, opened if need be (as the bot's first DM would)."""
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None or channel_id not in self._channels:
            channel_id = self._dm_channels[user_id] = self._next_id()
            self._channels[channel_id] = _Channel(channel_id, None, "", 1, recipient_id=user_id)
        return channel_id

    def remove_channel(self, channel_id: int) -> None:
        """Make a channel "gone" (as if deleted): later calls get 404 Unknown Channel; its webhooks go too."""
        self._channels.pop(channel_id, None)
        for wh in self._webhooks.values():
            if wh.channel_id == channel_id:
                wh.deleted = True

    def close_dms(self, user_id: int) -> None:
        """The user blocks DMs from the bot: sends to their DM channel get 403 code 50007."""
        self._closed_dms.add(user_id)

    def dm_channel_id(self, user_id: int) -> int | None:
        return self._dm_channels.get(user_id)

    def add_webhook(self, channel_id: int, name: str = "Captain Hook") -> FakeWebhook:
        """A webhook a user made in Discord's UI (not owned by the bot's application)."""
        ch = self._channels[channel_id]
        wh = FakeWebhook(
            self._next_id(), secrets.token_urlsafe(51), ch.id, ch.guild_id, name, self._next_index()
        )
        self._webhooks[wh.id] = wh
        return wh

    def hold(self, method: str, path_regex: str, *, after_effect: bool = False) -> Hold:
        """Hold matching API requests until ``release()`` (in-process only; see :class:`Hold`)."""
        h = Hold(method, path_regex, after_effect=after_effect)
        self._holds.append(h)
        return h

    def inject(
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
        """Answer the next ``times`` matching API requests with ``status``.

        ``path_regex`` is searched in the path relative to /api/v10 (e.g. ``r"^/channels/\\d+/messages$"``);
        ``method`` may be "*". With ``lose_response`` the request takes effect first and only the reply is
        replaced, as when Discord commits a message and the response is lost.
        """
        fault = Fault(method.upper(), path_regex, status, times, retry_after, code, message, lose_response)
        re.compile(path_regex)  # fail here, not inside a request
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[Fault]:
        return list(self._faults)

    def messages(self, channel_id: int | None = None, include_deleted: bool = False) -> list[FakeMessage]:
        return [
            m
            for m in self._messages.values()
            if (channel_id is None or m.channel_id == channel_id) and (include_deleted or not m.deleted)
        ]

    def message(self, message_id: int) -> FakeMessage:
        return self._messages[message_id]

    def dms(self, user_id: int, include_deleted: bool = False) -> list[FakeMessage]:
        channel_id = self._dm_channels.get(user_id)
        return [] if channel_id is None else self.messages(channel_id, include_deleted)

    def webhooks(self) -> list[FakeWebhook]:
        return list(self._webhooks.values())

    def requests(self, method: str | None = None, path_regex: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self._requests
            if (method is None or r.method == method.upper())
            and (path_regex is None or re.search(path_regex, r.path))
        ]

    def unexpected_requests(self) -> list[RecordedRequest]:
        return [r for r in self._requests if r.unexpected]

    def assert_no_violations(self) -> None:
        """Fail if any request was one the real Discord would reject, or hit a route the fake lacks."""
        if self.violations:
            lines = "\n".join(f"  {v}" for v in self.violations)
            raise AssertionError(f"{len(self.violations)} Discord API violation(s):\n{lines}")

    # ----- request pipeline ------------------------------------------------------------------------------

    def new_id(self) -> int:
        return self._next_id()

    def _next_id(self) -> int:
        # Real snowflakes (timestamp << 22), strictly increasing even within one millisecond.
        self._last_id = max(self._last_id + 1, (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22)
        return self._last_id

    def _next_index(self) -> int:
        self._counter += 1
        return self._counter

    def _violation(self, rec: RecordedRequest, kind: str, errors: list[str]) -> None:
        self.violations.append(Violation(rec.method, rec.path, kind, errors))

    async def _outside_api(self, request: web.Request) -> web.Response:
        rec = RecordedRequest(
            request.method, request.path, dict(request.query), None, {}, 404, unexpected=True
        )
        self._requests.append(rec)
        self._violation(rec, "unknown_route", [f"not under {API_PREFIX}"])
        return _json_response(404, {"message": "404: Not Found", "code": 0})

    async def _api(self, request: web.Request) -> web.Response:
        headers = {k: request.headers[k] for k in _RECORDED_HEADERS if k in request.headers}
        rel = request.path[len(API_PREFIX) :] or "/"
        rec = RecordedRequest(request.method, rel, dict(request.query), None, headers)
        self._requests.append(rec)
        for h in self._holds:
            if not h.after_effect and h.matches(rec.method, rec.path):
                await h._enter()
        limits = self._rate_limit_headers(rec.method, rec.path)
        try:
            status, body, extra_headers = await self._dispatch(request, rec)
        except DiscordError as e:
            status, body, extra_headers = e.status, e.body, e.headers
        for h in self._holds:
            if h.after_effect and h.matches(rec.method, rec.path):
                await h._enter()
        rec.status = status
        if rec.method != "GET":
            self.changed()
        return _json_response(status, body, {**limits, **extra_headers})

    def _rate_limit_headers(self, method: str, path: str) -> dict[str, str]:
        """Count the request in its bucket's window and describe the bucket the way Discord does.

        Reported, not enforced (a test gets 429s by ``inject``). Windows run on the monotonic clock:
        discord.py waits for them in real time, whatever ``clock`` the nonce window uses.
        """
        if not self.rate_limit_headers:
            return {}
        template, params = path, {}
        for m, t, regex, _, _ in self._routes:
            if m == method and (found := regex.match(path)):
                template, params = t, found.groupdict()
                break
        bucket = hashlib.sha256(f"{method} {template}".encode()).hexdigest()[:32]
        key = (bucket, "+".join(params[p] for p in _MAJOR_PARAMS if p in params))
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now >= start + self.rate_window:
            start, count = now, 0
        self._windows[key] = (start, count + 1)
        reset_after = start + self.rate_window - now
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - count - 1)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    async def _dispatch(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        body, files = await self._read_body(request, rec)
        rec.json = body
        route = self._match(rec.method, rec.path)
        if route is None:
            rec.unexpected = True
            known = any(rx.match(rec.path) for _, _, rx, _, _ in self._routes)
            self._violation(rec, "unknown_route", ["the fake has no handler for this route"])
            if known:
                raise DiscordError(405, 0, "405: Method Not Allowed")
            raise DiscordError(404, 0, f"404: Not Found (fake Discord has no route {rec.method} {rec.path})")
        handler, params, needs_bot_auth = route
        if needs_bot_auth and not re.fullmatch(r"Bot \S+", request.headers.get("Authorization", "")):
            raise DiscordError(401, 0, "401: Unauthorized")
        if self.validate:
            self._check_schema(rec, body)
        call = _Call(params, rec.query, body if isinstance(body, dict) else {}, files, body)
        fault = next((f for f in self._faults if f.matches(rec.method, rec.path)), None)
        if fault is None:
            status, payload = self._run(handler, call, rec)
            return status, payload, {}
        fault.times -= 1
        fault.fired += 1
        rec.fault = True
        if fault.lose_response:
            self._run(handler, call, rec)
        return _fault_reply(fault)

    def _run(self, handler: Handler, call: _Call, rec: RecordedRequest) -> Reply:
        try:
            return handler(call)
        except DiscordError as e:
            # Rules beyond the schema (bots' 2000-char limit, empty message) are caller bugs too.
            if e.body["code"] in (50006, 50035):
                self._violation(rec, "rule", [json.dumps(e.body)])
            raise

    def _match(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool] | None:
        for m, _, regex, handler, auth in self._routes:
            if m == method and (found := regex.match(path)):
                return handler, found.groupdict(), auth
        return None

    def _check_schema(self, rec: RecordedRequest, body: Any) -> None:
        spec = load_spec()
        found = spec.find(rec.method, rec.path)
        if found is None:  # every fake route exists in the spec (tested); keep serving if it ever drifts
            return
        op, path_params = found
        errors = spec.validate(op, path_params, rec.query, body)
        if errors:
            kinds = sorted({str(e.location[0]) for e in errors})
            self._violation(rec, "+".join(kinds), [str(e) for e in errors])
            raise DiscordError(400, **invalid_form_body(errors))

    async def _read_body(
        self, request: web.Request, rec: RecordedRequest
    ) -> tuple[Any, list[dict[str, Any]]]:
        if not request.body_exists:
            return None, []
        files: list[dict[str, Any]] = []
        try:
            if request.content_type == "multipart/form-data":
                body: Any = None
                async for part in await request.multipart():
                    if not isinstance(part, BodyPartReader):
                        continue
                    if part.name == "payload_json":
                        body = json.loads(await part.text())
                    else:
                        files.append({"filename": part.filename or part.name, "size": len(await part.read())})
                return body, files
            raw = await request.read()
            return (json.loads(raw) if raw else None), files
        except (ValueError, UnicodeDecodeError) as e:
            self._violation(rec, "invalid_json", [str(e)])
            raise DiscordError(400, 50109) from e

    # ----- JSON shapes -----------------------------------------------------------------------------------

    def user_json(self) -> dict[str, Any]:
        return {
            "id": str(self.bot_user_id),
            "username": self.bot_name,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "flags": 0,
            "public_flags": 0,
            "mfa_enabled": False,
            "verified": True,
            "locale": "en-US",
        }

    def _channel_json(self, ch: _Channel) -> dict[str, Any]:
        if ch.type == 1:
            recipient = self.user(ch.recipient_id or 0).json()
            return {
                "id": str(ch.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [recipient],
            }
        return {
            "id": str(ch.id),
            "type": 0,
            "guild_id": str(ch.guild_id),
            "name": ch.name,
            "position": 0,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def _webhook_json(self, wh: FakeWebhook, *, with_user: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(wh.id),
            "type": 1,
            "guild_id": None if wh.guild_id is None else str(wh.guild_id),
            "channel_id": str(wh.channel_id),
            "name": wh.name,
            "avatar": None,
            "token": wh.token,
            "application_id": None if wh.application_id is None else str(wh.application_id),
        }
        if with_user:
            data["user"] = self.user_json()
        return data

    def channel_json(self, ch: _Channel) -> dict[str, Any]:
        return self._channel_json(ch)

    def message_json(self, m: FakeMessage) -> dict[str, Any]:
        return self._message_json(m)

    def _message_json(self, m: FakeMessage) -> dict[str, Any]:
        if m.webhook_id is None:
            author = self.user_json()
        else:
            name = m.username or self._webhooks[m.webhook_id].name
            author = {
                "id": str(m.webhook_id),
                "username": name,
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            }
        attachments = [
            {"id": str(m.id + i), "url": f"{self.url}/attachments/{a['filename']}", "proxy_url": "", **a}
            for i, a in enumerate(m.attachments)
        ]
        data: dict[str, Any] = {
            "id": str(m.id),
            "type": 0,
            "channel_id": str(m.channel_id),
            "author": author,
            "content": m.content,
            "timestamp": _snowflake_time(m.id),
            "edited_timestamp": m.edited_at,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": m.embeds,
            "components": m.components,
            "pinned": False,
            "flags": m.flags,
        }
        if m.nonce is not None:
            data["nonce"] = m.nonce
        if m.webhook_id is not None:
            data["webhook_id"] = str(m.webhook_id)
        return data

    # ----- Discord API handlers --------------------------------------------------------------------------

    def _add_api_routes(self) -> None:
        bot, token = True, False  # token routes (/webhooks/{id}/{token}) need no Authorization header
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", lambda c: (200, self.user_json()), bot),
            ("GET", "/oauth2/applications/@me", self._get_application, bot),
            ("POST", "/users/@me/channels", self._create_dm, bot),
            ("GET", "/channels/{channel_id}", self._get_channel, bot),
            ("GET", "/guilds/{guild_id}", self._get_guild, bot),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member, bot),
            ("GET", "/channels/{channel_id}/messages", self._list_messages, bot),
            ("POST", "/channels/{channel_id}/messages", self._create_message, bot),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message, bot),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, bot),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message, bot),
            ("GET", "/channels/{channel_id}/webhooks", self._channel_webhooks, bot),
            ("POST", "/channels/{channel_id}/webhooks", self._create_webhook, bot),
            ("GET", "/webhooks/{webhook_id}", self._get_webhook, bot),
            ("DELETE", "/webhooks/{webhook_id}", self._delete_webhook, bot),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}", self._get_webhook, token),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}", self._delete_webhook, token),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self._execute_webhook, token),
            (
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self._edit_message,
                token,
            ),
            (
                "DELETE",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                self._delete_message,
                token,
            ),
        ]
        book = self.interactions_routes()
        self._routes = [(m, t, template_regex(t), h, auth) for m, t, h, auth in [*book, *table]]

    def interactions_routes(self) -> list[tuple[str, str, Handler, bool]]:
        """The gateway's URL, command sync and interaction responses (what the bot process uses)."""
        bot, token = True, False
        original = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
        return [
            ("GET", "/gateway", lambda c: (200, {"url": self.gateway.url}), False),
            ("GET", "/gateway/bot", self._get_gateway_bot, bot),
            ("PUT", "/applications/{application_id}/commands", self._put_commands, bot),
            ("GET", "/applications/{application_id}/commands", self._get_commands, bot),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands, bot),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands, bot),
            (
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                lambda c: self.interactions.callback(c),
                token,
            ),
            ("GET", original, lambda c: self.interactions.original(c, "GET"), token),
            ("PATCH", original, lambda c: self.interactions.original(c, "PATCH"), token),
            ("DELETE", original, lambda c: self.interactions.original(c, "DELETE"), token),
        ]

    def _get_gateway_bot(self, call: _Call) -> Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return 200, {"url": self.gateway.url, "shards": 1, "session_start_limit": limit}

    def _put_commands(self, call: _Call) -> Reply:
        scope = int(call.params["guild_id"]) if "guild_id" in call.params else None
        commands = []
        for command in call.raw if isinstance(call.raw, list) else []:
            commands.append(
                {
                    **command,
                    "id": str(self._next_id()),
                    "application_id": str(self.bot_user_id),
                    "version": str(self._next_id()),
                    "type": command.get("type", 1),
                    "default_member_permissions": command.get("default_member_permissions"),
                    **({"guild_id": str(scope)} if scope else {}),
                }
            )
        self.interactions.commands[scope] = commands
        return 200, commands

    def _get_commands(self, call: _Call) -> Reply:
        scope = int(call.params["guild_id"]) if "guild_id" in call.params else None
        return 200, self.interactions.commands.get(scope, [])

    # ----- what the gateway sends ------------------------------------------------------------------------

    def _token_ok(self, token: str) -> bool:
        token = token.removeprefix("Bot ")
        return bool(token) and (self.token is None or token == self.token)

    def _ready_payload(self, session: Session) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.user_json(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self._guilds.values()],
            "session_id": session.id,
            "resume_gateway_url": self.gateway.url,
            "shard": [0, 1],
            "application": {"id": str(self.bot_user_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "user_settings": {},
        }

    def _guild_payloads(self) -> list[dict[str, Any]]:
        return [self._guild_json(g) for g in self._guilds.values()]

    def _guild_json(self, guild: Guild) -> dict[str, Any]:
        members = [guild.member_json(self.user(user_id)) for user_id in guild.members]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "features": [],
            "roles": [r.json() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "members": members,
            "channels": [self._channel_json(c) for c in self.channels(guild.id)],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def interaction_payload(self, interaction: Interaction, message: FakeMessage | None) -> dict[str, Any]:
        user = self.user(interaction.user_id)
        channel = self.channel_record(interaction.channel_id)
        payload: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(self.bot_user_id),
            "type": interaction.type,
            "data": interaction.data,
            "channel_id": str(channel.id),
            "channel": self._channel_json(channel),
            "token": interaction.token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 26_214_400,
        }
        if channel.guild_id is not None and channel.guild_id in self._guilds:
            guild = self._guilds[channel.guild_id]
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = guild.member_json(user, with_permissions=True)
            payload["app_permissions"] = str(guild.permissions(self.bot_user_id))
            payload["authorizing_integration_owners"] = {"0": str(guild.id)}
            payload["context"] = 0
        else:
            payload["user"] = user.json()
            payload["app_permissions"] = str(BOT_PERMISSIONS)
            payload["authorizing_integration_owners"] = {"0": str(self.bot_user_id)}
            payload["context"] = 1
        if message is not None:
            payload["message"] = self._message_json(message)
        return payload

    # ----- messages the bot sends as interaction answers -------------------------------------------------

    def create_message_as_bot(self, channel_id: int, body: dict[str, Any]) -> FakeMessage:
        """A message the bot posts by answering an interaction (ephemeral when flagged so)."""
        return self._new_message(self._channels[channel_id], _Call({}, {}, body, [], body), None)

    def placeholder_message(self, channel_id: int, flags: int) -> FakeMessage:
        """The "thinking…" message of a deferred answer, replaced by the bot's edit of @original."""
        ch = self._channels[channel_id]
        m = FakeMessage(
            id=self._next_id(),
            channel_id=ch.id,
            guild_id=ch.guild_id,
            author_id=self.bot_user_id,
            content="",
            components=[],
            embeds=[],
            flags=flags,
            nonce=None,
            webhook_id=None,
            index=self._next_index(),
            dm_recipient_id=ch.recipient_id,
        )
        self._messages[m.id] = m
        return m

    def edit_message_as_bot(self, channel_id: int, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        params = {"channel_id": str(channel_id), "message_id": str(message_id)}
        message = self._messages.get(message_id)
        loading = message is not None and bool(message.flags & (1 << 7))
        _, data = self._edit_message(_Call(params, {}, body, [], body))
        if message is not None and loading:
            # The deferred answer arrives: no longer "thinking", and not shown as edited.
            message.flags &= ~(1 << 7)
            message.edited_at = None
            data = self._message_json(message)
        return dict(data)

    def routes(self) -> list[tuple[str, str]]:
        """(method, path template) of every implemented API route."""
        return [(m, t) for m, t, _, _, _ in self._routes]

    def _get_application(self, call: _Call) -> Reply:
        return 200, {
            "id": str(self.bot_user_id),
            "name": self.bot_name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.user_json(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
        }

    def _channel(self, call: _Call) -> _Channel:
        ch = self._channels.get(call.int_param("channel_id"))
        if ch is None:
            raise DiscordError(404, 10003)
        return ch

    def _get_channel(self, call: _Call) -> Reply:
        return 200, self._channel_json(self._channel(call))

    def _guild_of(self, call: _Call) -> Guild:
        guild = self._guilds.get(call.int_param("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004)
        return guild

    def _get_guild(self, call: _Call) -> Reply:
        # The REST guild: the gateway's GUILD_CREATE without what only the gateway sends.
        gateway_only = {"joined_at", "large", "unavailable", "member_count", "members", "channels"}
        data = self._guild_json(self._guild_of(call))
        return 200, {k: v for k, v in data.items() if k not in gateway_only and k not in _GATEWAY_LISTS}

    def _get_member(self, call: _Call) -> Reply:
        guild = self._guild_of(call)
        user_id = call.int_param("user_id")
        if user_id not in guild.members:
            raise DiscordError(404, 10007)
        return 200, guild.member_json(self.user(user_id))

    def _create_dm(self, call: _Call) -> Reply:
        if call.body.get("recipient_id") is None:
            raise _form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
        user_id = int(call.body["recipient_id"])
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None or channel_id not in self._channels:
            channel_id = self._dm_channels[user_id] = self._next_id()
            self._channels[channel_id] = _Channel(channel_id, None, "", 1, recipient_id=user_id)
        return 200, self._channel_json(self._channels[channel_id])

    def _check_content(self, body: Mapping[str, Any]) -> None:
        content = body.get("content")
        if isinstance(content, str) and len(content) > BOT_CONTENT_LIMIT:
            raise _form_error(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {BOT_CONTENT_LIMIT} or fewer in length."
            )

    @staticmethod
    def _check_message(body: Mapping[str, Any], flags: int, stored: Mapping[str, Any]) -> None:
        """The rules beyond the schema; ``stored`` is the message as it would be saved (after an edit)."""
        errors = rules.legacy_fields(stored, flags)
        if "components" in body:
            errors += rules.components(body["components"], flags)
        if "embeds" in body:
            errors += rules.embeds(body["embeds"])
        errors += rules.allowed_mentions(body.get("allowed_mentions"))
        _refuse(errors)

    @staticmethod
    def _components_ignored(call: _Call, webhook: FakeWebhook | None) -> bool:
        # Discord drops the components of a webhook it does not own unless asked with with_components
        # (https://github.com/discord/discord-api-docs/pull/7368); a V2 message then has nothing left: 50006.
        return (
            webhook is not None
            and webhook.application_id is None
            and not _truthy(call.query.get("with_components"))
        )

    def _new_message(self, ch: _Channel, call: _Call, webhook: FakeWebhook | None) -> FakeMessage:
        body = dict(call.body)
        if self._components_ignored(call, webhook):
            body.pop("components", None)
        self._check_content(body)
        flags = body.get("flags") or 0
        self._check_message(body, flags, body)
        content = body.get("content") or ""
        embeds, components = body.get("embeds") or [], body.get("components") or []
        if not (content or embeds or components or call.files or body.get("sticker_ids") or body.get("poll")):
            raise DiscordError(400, 50006)
        m = FakeMessage(
            id=self._next_id(),
            channel_id=ch.id,
            guild_id=ch.guild_id,
            author_id=self.bot_user_id if webhook is None else webhook.id,
            content=content,
            components=components,
            embeds=embeds,
            flags=flags,
            nonce=body.get("nonce"),
            webhook_id=None if webhook is None else webhook.id,
            index=self._next_index(),
            dm_recipient_id=ch.recipient_id,
            attachments=call.files,
            username=(body.get("username") or None) if webhook is not None else None,
        )
        self._messages[m.id] = m
        return m

    def _create_message(self, call: _Call) -> Reply:
        ch = self._channel(call)
        if ch.recipient_id in self._closed_dms:
            raise DiscordError(403, 50007)
        nonce = call.body.get("nonce")
        key, now = (ch.id, str(nonce)), self.clock()
        seen = self._nonces.get(key)
        fresh = seen is not None and now - seen[1] < self.nonce_window
        if nonce is not None and call.body.get("enforce_nonce") and seen is not None and fresh:
            # Discord returns the message created by the first request and creates nothing.
            return 200, self._message_json(self._messages[seen[0]])
        m = self._new_message(ch, call, None)
        if nonce is not None and not fresh:
            self._nonces[key] = (m.id, now)
        return 200, self._message_json(m)

    def _list_messages(self, call: _Call) -> Reply:
        """The channel's history, newest first: `limit` (1-100, default 50) before, after or around
        a message id, as Discord pages it."""
        ch = self._channel(call)
        limit = int(call.query.get("limit", "50"))
        shown = sorted((m for m in self.messages(ch.id)), key=lambda m: m.id)
        if "after" in call.query:
            after = int(call.query["after"])
            page = [m for m in shown if m.id > after][:limit]
        elif "around" in call.query:
            around = int(call.query["around"])
            older = [m for m in shown if m.id < around][-(limit // 2) or len(shown) :]
            page = (older + [m for m in shown if m.id >= around])[:limit]
        else:
            before = int(call.query.get("before", str(2**63)))
            page = [m for m in shown if m.id < before][-limit:]
        return 200, [self._message_json(m) for m in reversed(page)]

    def _find_message(self, call: _Call) -> FakeMessage:
        """The addressed message, via its channel or via the webhook that posted it."""
        if "webhook_token" in call.params:
            wh = self._webhook(call)
            channel_id, webhook_id = wh.channel_id, wh.id
        else:
            channel_id, webhook_id = self._channel(call).id, None
        m = self._messages.get(call.int_param("message_id"))
        if (
            m is None
            or m.deleted
            or m.channel_id != channel_id
            or (webhook_id and m.webhook_id != webhook_id)
        ):
            raise DiscordError(404, 10008)
        return m

    def _get_message(self, call: _Call) -> Reply:
        return 200, self._message_json(self._find_message(call))

    def _edit_message(self, call: _Call) -> Reply:
        if "webhook_token" in call.params and self.interactions.owns(call):
            return self.interactions.original(call, "PATCH")
        m = self._find_message(call)
        if "webhook_token" not in call.params and m.webhook_id is not None:
            raise DiscordError(403, 50005)
        body = dict(call.body)
        if self._components_ignored(call, self._webhooks.get(m.webhook_id or 0)):
            body.pop("components", None)
        self._check_content(body)
        # The V2 flag cannot be switched off, so a V2 message stays V2 whatever the edit's flags say.
        flags = (m.flags & _COMPONENTS_V2) | ((body.get("flags") or 0) & _COMPONENTS_V2)
        after = {
            "content": body.get("content") if "content" in body else m.content,
            "embeds": body.get("embeds") if "embeds" in body else m.embeds,
        }
        self._check_message(body, flags, after)
        if "content" in body:
            m.content = body["content"] or ""
        if "embeds" in body:
            m.embeds = body["embeds"] or []
        if "components" in body:
            m.components = body["components"] or []
        if "flags" in body:
            # Editing can only toggle SUPPRESS_EMBEDS (and switch on components v2); other bits stay.
            m.flags = (m.flags & ~_SUPPRESS_EMBEDS) | (
                (body["flags"] or 0) & (_SUPPRESS_EMBEDS | _COMPONENTS_V2)
            )
        m.edits.append(body)
        m.edited_at = datetime.now(UTC).isoformat()
        return 200, self._message_json(m)

    def _delete_message(self, call: _Call) -> Reply:
        if "webhook_token" in call.params and self.interactions.owns(call):
            return self.interactions.original(call, "DELETE")
        self._find_message(call).deleted = True
        return 204, None

    def _live_webhooks(self, channel_id: int) -> list[FakeWebhook]:
        return [wh for wh in self._webhooks.values() if wh.channel_id == channel_id and not wh.deleted]

    def _channel_webhooks(self, call: _Call) -> Reply:
        ch = self._channel(call)
        return 200, [self._webhook_json(wh, with_user=True) for wh in self._live_webhooks(ch.id)]

    def _create_webhook(self, call: _Call) -> Reply:
        ch = self._channel(call)
        name = str(call.body.get("name", ""))
        if re.search("clyde|discord", name, re.IGNORECASE):
            raise _form_error("name", "WEBHOOK_INVALID_USERNAME", f'Username cannot contain "{name}"')
        if len(self._live_webhooks(ch.id)) >= MAX_CHANNEL_WEBHOOKS:
            raise DiscordError(400, 30007)
        wh = FakeWebhook(
            self._next_id(),
            secrets.token_urlsafe(51),
            ch.id,
            ch.guild_id,
            name,
            self._next_index(),
            application_id=self.bot_user_id,  # a bot's webhooks belong to its application
        )
        self._webhooks[wh.id] = wh
        return 200, self._webhook_json(wh, with_user=True)

    def _webhook(self, call: _Call) -> FakeWebhook:
        wh = self._webhooks.get(call.int_param("webhook_id"))
        if wh is None or wh.deleted:
            raise DiscordError(404, 10015)
        if "webhook_token" in call.params and call.params["webhook_token"] != wh.token:
            raise DiscordError(401, 50027)
        return wh

    def _get_webhook(self, call: _Call) -> Reply:
        wh = self._webhook(call)
        return 200, self._webhook_json(wh, with_user="webhook_token" not in call.params)

    def _delete_webhook(self, call: _Call) -> Reply:
        self._webhook(call).deleted = True
        return 204, None

    def _execute_webhook(self, call: _Call) -> Reply:
        if self.interactions.owns(call):
            return self.interactions.followup(call)
        wh = self._webhook(call)
        ch = self._channels.get(wh.channel_id)
        if ch is None:
            raise DiscordError(404, 10003)
        username = str(call.body.get("username") or "")
        if re.search("clyde|discord", username, re.IGNORECASE):
            raise _form_error("username", "WEBHOOK_INVALID_USERNAME", f'Username cannot contain "{username}"')
        m = self._new_message(ch, call, wh)
        wait = call.query.get("wait", "false").lower() in ("1", "true")
        return (200, self._message_json(m)) if wait else (204, None)

    # ----- /_fake control API (for tests in another process) ---------------------------------------------

    def _add_control_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/_fake/health", self._c_health)
        r.add_get("/_fake/messages", self._c_messages)
        r.add_get("/_fake/dms/{user_id}", self._c_dms)
        r.add_get("/_fake/requests", self._c_requests)
        r.add_get("/_fake/violations", self._c_violations)
        r.add_get("/_fake/webhooks", self._c_webhooks)
        r.add_post("/_fake/webhooks", self._c_add_webhook)
        r.add_get("/_fake/faults", self._c_faults)
        r.add_post("/_fake/faults", self._c_inject)
        r.add_delete("/_fake/faults", self._c_clear_faults)
        r.add_post("/_fake/channels", self._c_add_channel)
        r.add_delete("/_fake/channels/{channel_id}", self._c_remove_channel)
        r.add_post("/_fake/closed_dms", self._c_close_dms)
        r.add_post("/_fake/reset", self._c_reset)

    @staticmethod
    def _dump(items: list[Any]) -> web.Response:
        return _json_response(200, [dataclasses.asdict(i) for i in items])

    async def _c_health(self, request: web.Request) -> web.Response:
        return _json_response(200, {"ok": True, "bot_user_id": self.bot_user_id, "base_url": self.base_url})

    async def _c_messages(self, request: web.Request) -> web.Response:
        channel = request.query.get("channel_id")
        include_deleted = request.query.get("include_deleted", "false").lower() in ("1", "true")
        return self._dump(self.messages(None if channel is None else int(channel), include_deleted))

    async def _c_dms(self, request: web.Request) -> web.Response:
        include_deleted = request.query.get("include_deleted", "false").lower() in ("1", "true")
        return self._dump(self.dms(int(request.match_info["user_id"]), include_deleted))

    async def _c_requests(self, request: web.Request) -> web.Response:
        return self._dump(self.requests(request.query.get("method"), request.query.get("path_regex")))

    async def _c_violations(self, request: web.Request) -> web.Response:
        return self._dump(self.violations)

    async def _c_webhooks(self, request: web.Request) -> web.Response:
        return self._dump(self.webhooks())

    async def _c_add_webhook(self, request: web.Request) -> web.Response:
        args = await request.json()
        wh = self.add_webhook(int(args["channel_id"]), args.get("name", "Captain Hook"))
        return _json_response(200, dataclasses.asdict(wh))

    async def _c_faults(self, request: web.Request) -> web.Response:
        return self._dump(self.faults())

    async def _c_inject(self, request: web.Request) -> web.Response:
        args = await request.json()
        fault = self.inject(args.pop("method"), args.pop("path_regex"), args.pop("status"), **args)
        return _json_response(200, dataclasses.asdict(fault))

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return _json_response(204, None)

    async def _c_add_channel(self, request: web.Request) -> web.Response:
        args = await request.json()
        self.add_channel(int(args["channel_id"]), int(args["guild_id"]), args.get("name", "general"))
        return _json_response(204, None)

    async def _c_remove_channel(self, request: web.Request) -> web.Response:
        self.remove_channel(int(request.match_info["channel_id"]))
        return _json_response(204, None)

    async def _c_close_dms(self, request: web.Request) -> web.Response:
        self.close_dms(int((await request.json())["user_id"]))
        return _json_response(204, None)

    async def _c_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return _json_response(204, None)


def _fault_reply(fault: Fault) -> tuple[int, Any, dict[str, str]]:
    if fault.status == 429:
        body: dict[str, Any] = {
            "message": fault.message or "You are being rate limited.",
            "retry_after": fault.retry_after,
            "global": False,
        }
        if fault.code is not None:
            body["code"] = fault.code
        # discord.py treats a 429 without Via as a Cloudflare ban and raises instead of retrying.
        # These override the bucket's headers (X-RateLimit-Bucket comes from there).
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(fault.retry_after))),
            "X-RateLimit-Scope": "user",
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + fault.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{fault.retry_after:.3f}",
        }
        return 429, body, headers
    code = fault.code or 0
    body = {"message": fault.message or _default_message(fault.status, code), "code": code}
    if code == 50035:
        body["errors"] = {}
    return fault.status, body, {}
