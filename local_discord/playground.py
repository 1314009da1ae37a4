"""The playground: the local Discord with one guild in it and a web page to use it as its members do.

The page (served at `/`) shows the guild's channels with their messages as they arrive, each
member's DMs and ephemeral answers, and lets you act as a host or a player: run the bot's slash
commands with their options, press buttons, pick from selects, fill in modals. Each action is an
interaction sent to the real bot process over the gateway; what the bot answers shows up on the page.

The JSON API under `/_play/` is what the page (and the end-to-end tests) call.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from .interactions import EPHEMERAL, Interaction, InteractionError, Upload, usable_in_dms
from .models import FakeMessage, FakeWebhook
from .rest import DiscordError, FakeDiscord, _Channel
from .world import MANAGE_GUILD, MANAGE_ROLES

STATIC = Path(__file__).resolve().parent / "static"
STATE_VERSION = 1
log = logging.getLogger("local_discord.playground")

GUILD_ID = 1_200_000_000_000_000_001
CHANNELS = {
    1_200_000_000_000_000_011: "general",
    1_200_000_000_000_000_012: "safari",
    1_200_000_000_000_000_013: "events",
}
HOST_ROLE_ID = 1_200_000_000_000_000_021
HOST_ID, PLAYER_ID, OTHER_PLAYER_ID = (
    1_200_000_000_000_000_101,
    1_200_000_000_000_000_102,
    1_200_000_000_000_000_103,
)
MEMBERS = {HOST_ID: "Hana", PLAYER_ID: "Pax", OTHER_PLAYER_ID: "Quinn"}

Handler = Callable[[web.Request], Awaitable[web.Response]]


class Playground(FakeDiscord):
    """A FakeDiscord holding the playground guild, with the page and its API on the same port.

    With `state_file`, what members see (messages with their buttons, DMs, webhooks) is kept there
    after every change and read back on start, so a restart of `make run` loses nothing that the
    workflows behind those buttons still hold. Interactions are not kept: Discord's expire too.
    """

    def __init__(self, *, state_file: Path | None = None, **options: Any) -> None:
        options.setdefault("bot_name", "GameBot")
        self._state_file = state_file
        super().__init__(**options)
        if state_file is not None:
            self._load(state_file)

    # ----- kept across restarts ----------------------------------------------------------------------

    def changed(self) -> None:
        if self._state_file is None:
            return
        data = {
            "version": STATE_VERSION,
            "counter": self._counter,
            "dm_channels": {str(user): str(channel) for user, channel in self._dm_channels.items()},
            "messages": [asdict(m) for m in self._messages.values()],
            "webhooks": [asdict(w) for w in self._webhooks.values()],
            "uploads": [
                {"id": u.id, "filename": u.filename, "content_type": u.content_type}
                for u in self.interactions.uploads.values()
            ],
        }
        tmp = self._state_file.with_name(self._state_file.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self._state_file)  # a reader or a crash never sees half a file

    @staticmethod
    def _files_folder(state_file: Path) -> Path:
        return state_file.with_name(state_file.stem + "-files")

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, not {STATE_VERSION}")
            dms = {int(user): int(channel) for user, channel in data["dm_channels"].items()}
            messages = [FakeMessage(**m) for m in data["messages"]]
            webhooks = [FakeWebhook(**w) for w in data["webhooks"]]
            folder = self._files_folder(path)
            uploads = [
                Upload(int(u["id"]), u["filename"], u["content_type"], (folder / str(u["id"])).read_bytes())
                for u in data.get("uploads", [])
            ]
        except (OSError, ValueError, KeyError, TypeError) as err:
            kept = path.with_name(path.name + ".unreadable")
            os.replace(path, kept)
            log.warning(
                "the playground's saved world could not be read (%s); kept as %s, starting empty", err, kept
            )
            return
        for user, channel in dms.items():
            self._dm_channels[user] = channel
            self._channels[channel] = _Channel(channel, None, "", 1, recipient_id=user)
        self._messages = {m.id: m for m in messages}
        self._webhooks = {w.id: w for w in webhooks}
        self.interactions.uploads = {u.id: u for u in uploads}
        self._counter = int(data["counter"])
        # Snowflakes carry the time, so new ones already sort after the kept ones.
        self._last_id = max([self._last_id, *self._messages, *self._webhooks, *self._channels])

    def reset(self) -> None:
        super().reset()
        self.add_guild(GUILD_ID, "Playground", owner_id=HOST_ID)
        self.add_role(GUILD_ID, HOST_ROLE_ID, "Game Masters", MANAGE_ROLES | MANAGE_GUILD)
        for channel_id, name in CHANNELS.items():
            self.add_channel(channel_id, GUILD_ID, name)
        for user_id, name in MEMBERS.items():
            self.add_member(GUILD_ID, user_id, name, [HOST_ROLE_ID] if user_id == HOST_ID else [])

    def extra_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self._page)
        r.add_static("/static/", STATIC)
        r.add_get("/favicon.ico", self._favicon)
        r.add_get("/_play/world", self._world)
        r.add_get("/_play/state", self._state)
        r.add_post("/_play/command", self._guarded(self._command))
        r.add_post("/_play/click", self._guarded(self._click))
        r.add_post("/_play/select", self._guarded(self._select))
        r.add_post("/_play/submit", self._guarded(self._submit))
        r.add_post("/_play/dismiss", self._guarded(self._dismiss))
        r.add_post("/_play/upload", self._guarded(self._upload))
        r.add_get("/attachments/{id}/{filename}", self._attachment)

    # ----- what a member sees ----------------------------------------------------------------------------

    def visible(self, user_id: int, channel_id: int) -> list[dict[str, Any]]:
        """The channel's messages as `user_id` sees them: everyone's, plus the ephemerals meant for them."""
        shown = []
        for m in self.messages(channel_id):
            if m.flags & EPHEMERAL and m.interaction_user_id != user_id:
                continue
            data = self.message_json(m)
            data["ephemeral"] = bool(m.flags & EPHEMERAL)
            data["thinking"] = bool(m.flags & (1 << 7))
            shown.append(data)
        return shown

    def state(self, user_id: int) -> dict[str, Any]:
        dm = self.dm_channel_for(user_id)
        mine = [i for i in self.interactions.by_id.values() if i.user_id == user_id][-20:]
        return {
            "channels": {str(c.id): self.visible(user_id, c.id) for c in self.channels(GUILD_ID)},
            "dm_channel_id": str(dm),
            "dms": self.visible(user_id, dm),
            # Each with where Discord offers it: a DM offers only global commands usable there.
            "commands": [
                {**c, "in_dms": scope is None and usable_in_dms(c)}
                for scope, commands in self.interactions.commands.items()
                for c in commands
            ],
            "interactions": [i.summary for i in mine],
            "bot_connected": self.gateway.connected(),
        }

    # ----- handlers --------------------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)  # browsers ask; an empty answer beats a 404 in the log

    async def _world(self, request: web.Request) -> web.Response:
        guild = self.guild(GUILD_ID)
        return web.json_response(
            {
                "guild": {"id": str(guild.id), "name": guild.name},
                "bot": {"id": str(self.bot_user_id), "name": self.bot_name},
                "channels": [{"id": str(c.id), "name": c.name} for c in self.channels(GUILD_ID)],
                "members": [
                    {"id": str(user_id), "name": self.user(user_id).name, "host": HOST_ROLE_ID in roles}
                    for user_id, roles in guild.members.items()
                    if user_id != self.bot_user_id
                ],
                "roles": [r.json() for r in guild.roles.values()],
            }
        )

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state(int(request.query["as"])))

    def _guarded(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except (InteractionError, KeyError, ValueError, DiscordError) as err:
                return web.json_response({"error": str(err)}, status=400)

        return run

    async def _command(self, request: web.Request) -> web.Response:
        body = await request.json()
        interaction = await self.interactions.command(
            int(body["as"]), int(body["channel_id"]), str(body["path"]), body.get("options") or {}
        )
        return web.json_response({"interaction_id": str(interaction.id)})

    async def _click(self, request: web.Request) -> web.Response:
        body = await request.json()
        interaction = await self.interactions.click(
            int(body["as"]), int(body["message_id"]), str(body["custom_id"])
        )
        return web.json_response({"interaction_id": str(interaction.id)})

    async def _select(self, request: web.Request) -> web.Response:
        body = await request.json()
        interaction = await self.interactions.select(
            int(body["as"]), int(body["message_id"]), str(body["custom_id"]), [str(v) for v in body["values"]]
        )
        return web.json_response({"interaction_id": str(interaction.id)})

    def _modal_origin(self, body: dict[str, Any]) -> Interaction:
        origin = self.interactions.by_id[int(body["interaction_id"])]
        if origin.user_id != int(body["as"]):
            raise InteractionError("that modal was opened by someone else")
        return origin

    async def _upload(self, request: web.Request) -> web.Response:
        """A file picked in the page, uploaded first as Discord's client does; the id goes in the action."""
        form = await request.post()
        file = form.get("file")
        if not isinstance(file, web.FileField):
            raise InteractionError("no file was uploaded")
        upload = self.interactions.upload(file.filename, file.content_type, file.file.read())
        if self._state_file is not None:
            folder = self._files_folder(self._state_file)
            folder.mkdir(exist_ok=True)
            (folder / str(upload.id)).write_bytes(upload.data)
            self.changed()
        return web.json_response(self.interactions.attachment_json(upload.id))

    async def _attachment(self, request: web.Request) -> web.Response:
        upload = self.interactions.uploads.get(int(request.match_info["id"]))
        if upload is None or upload.filename != request.match_info["filename"]:
            return web.Response(status=404)
        return web.Response(body=upload.data, content_type=upload.content_type)

    async def _dismiss(self, request: web.Request) -> web.Response:
        origin = self._modal_origin(await request.json())
        self.interactions.dismiss(origin.id)
        return web.json_response({})

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        origin = self._modal_origin(body)
        values = {
            str(k): [str(x) for x in v] if isinstance(v, list) else str(v)
            for k, v in (body.get("values") or {}).items()
        }
        interaction = await self.interactions.submit(origin.id, values)
        return web.json_response({"interaction_id": str(interaction.id)})
