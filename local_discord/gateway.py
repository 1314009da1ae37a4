"""Discord's gateway, as much of it as a guilds-intent bot uses: hello, identify, ready, guild
create, heartbeats, resume, and the events the local Discord dispatches (interaction create).

discord.py asks `GET /gateway/bot` for the URL and connects here unchanged. Frames are sent as
text (JSON), which discord.py reads as readily as the zlib stream it asks for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger("local_discord.gateway")

# Opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway).
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)
HEARTBEAT_INTERVAL_MS = 41_250
HEARTBEAT_ACK_DELAY = 0.02  # seconds: a short network round trip
AUTHENTICATION_FAILED = 4004


@dataclass
class Session:
    id: str
    ws: web.WebSocketResponse
    seq: int = 0
    # Events sent, kept so a RESUME after a dropped connection replays what was missed.
    sent: list[dict[str, Any]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Gateway:
    """Serves `/gateway` on the local Discord's app. `check_token(token)` says who may identify;
    `ready_events()` gives READY's payload and the GUILD_CREATEs that follow it."""

    def __init__(
        self,
        url: Callable[[], str],
        check_token: Callable[[str], bool],
        ready_payload: Callable[[Session], dict[str, Any]],
        guild_payloads: Callable[[], list[dict[str, Any]]],
    ) -> None:
        self._url = url
        self._check_token = check_token
        self._ready_payload = ready_payload
        self._guild_payloads = guild_payloads
        self.sessions: dict[str, Session] = {}
        self._live: set[str] = set()  # sessions with an open connection
        self._connected = asyncio.Condition()
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS  # a test may beat faster

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self._serve)

    @property
    def url(self) -> str:
        return self._url().replace("http://", "ws://", 1) + "/gateway"

    def connected(self) -> bool:
        return any(self.sessions[s].ready.is_set() for s in self._live)

    async def wait_connected(self, timeout: float = 30.0) -> None:
        """Until a bot has identified and received its guilds (a test waits on this)."""
        async with asyncio.timeout(timeout), self._connected:
            await self._connected.wait_for(self.connected)

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        """Send an event to every connected bot session; False when no bot is connected."""
        delivered = False
        for session_id in list(self._live):
            session = self.sessions[session_id]
            if session.ready.is_set():
                await self._send_event(session, event, data)
                delivered = True
        return delivered

    async def _send_event(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        del session.sent[:-1000]
        if not session.ws.closed:
            await session.ws.send_str(json.dumps(frame))

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        session: Session | None = None
        acks: set[asyncio.Task[None]] = set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                op, data = frame.get("op"), frame.get("d")
                if op == HEARTBEAT:
                    acks.add(asyncio.create_task(self._ack(ws)))
                    acks = {a for a in acks if not a.done()}
                elif op == IDENTIFY:
                    session = await self._identify(ws, data or {})
                elif op == RESUME:
                    session = await self._resume(ws, data or {})
                if session is None and op in (IDENTIFY, RESUME):
                    break
        finally:
            if session is not None:
                self._live.discard(session.id)
        return ws

    async def _ack(self, ws: web.WebSocketResponse) -> None:
        # Discord's acknowledgement crosses the network; discord.py's keep-alive thread records a
        # beat's send time only after its send returns, so an answer faster than that thread is
        # measured against the previous beat, a whole interval late ("Can't keep up").
        await asyncio.sleep(HEARTBEAT_ACK_DELAY)
        if not ws.closed:
            await ws.send_str(json.dumps({"op": HEARTBEAT_ACK, "d": None}))

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        if not self._check_token(str(data.get("token", ""))):
            await ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        session = Session(secrets.token_hex(16), ws)
        self.sessions[session.id] = session
        self._live.add(session.id)
        await self._send_event(session, "READY", self._ready_payload(session))
        for guild in self._guild_payloads():
            await self._send_event(session, "GUILD_CREATE", guild)
        await self._mark_ready(session)
        log.info("bot identified: session %s", session.id)
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(data.get("session_id", "")))
        if session is None or not self._check_token(str(data.get("token", ""))):
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
            return None
        session.ws = ws
        self._live.add(session.id)
        missed = [f for f in session.sent if f["s"] > int(data.get("seq") or 0)]
        for frame in missed:
            await ws.send_str(json.dumps(frame))
        await self._send_event(session, "RESUMED", {})
        await self._mark_ready(session)
        return session

    async def _mark_ready(self, session: Session) -> None:
        session.ready.set()
        async with self._connected:
            self._connected.notify_all()
