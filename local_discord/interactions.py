"""Interactions as Discord runs them: a user's command, click, select or modal submission becomes
an INTERACTION_CREATE on the gateway; the bot answers through the REST callback, follow-ups
and edits of the original response, under Discord's rules:

- the first response must come within 3 s (later: 404 Unknown interaction, code 10062), and only
  once (400, code 40060); follow-ups and edits are allowed for 15 minutes;
- a modal can only be a first response; an ephemeral message is seen by its user only.

`Interactions` keeps every interaction and what the bot answered, for the page and for tests.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import FakeMessage

if TYPE_CHECKING:
    from .rest import FakeDiscord, _Call

# Interaction types and callback types (https://discord.com/developers/docs/interactions/receiving-and-responding).
APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL = 4, 5, 6, 7, 9
EPHEMERAL, LOADING = 1 << 6, 1 << 7
FIRST_RESPONSE_DEADLINE = 3.0
MAX_UPLOAD = 10 * 2**20  # Discord's limit for a file without Nitro
TOKEN_LIFETIME = 15 * 60.0
# Option types of application commands.
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, NUMBER = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    10,
)
ATTACHMENT = 11
FILE_UPLOAD = 19  # a modal's file field


class InteractionError(ValueError):
    """A request the local Discord cannot turn into an interaction (an unknown command, say)."""


@dataclass
class Upload:
    """A file a member attached: Discord's client uploads it before the interaction names it by id."""

    id: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user_id: int
    guild_id: int | None
    channel_id: int
    created: float
    data: dict[str, Any]
    source_message_id: int | None = None  # the message whose component was used
    response_type: int | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    modal_submitted: bool = False
    # Closed by its user (Cancel, Esc): Discord tells the bot nothing, and the form is gone for good.
    modal_dismissed: bool = False
    refused: list[str] = field(default_factory=list)  # Discord errors the bot's calls got
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def modal_open(self) -> bool:
        return self.modal is not None and not (self.modal_submitted or self.modal_dismissed)

    @property
    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "user_id": str(self.user_id),
            "channel_id": str(self.channel_id),
            "response_type": self.response_type,
            "original_message_id": None
            if self.original_message_id is None
            else str(self.original_message_id),
            "followup_ids": [str(m) for m in self.followup_ids],
            "modal": self.modal if self.modal_open else None,
            "refused": self.refused,
        }


class Interactions:
    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self.by_id: dict[int, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> commands
        self.uploads: dict[int, Upload] = {}

    # ----- what users do ---------------------------------------------------------------------------------

    def upload(self, filename: str, content_type: str, data: bytes) -> Upload:
        """Keep a file a member picked; a command option or a modal's file field then names its id."""
        if not data:
            raise InteractionError(f"{filename} is empty")
        if len(data) > MAX_UPLOAD:
            raise InteractionError(f"{filename} is larger than Discord's {MAX_UPLOAD // 2**20} MiB")
        upload = Upload(self._fake.new_id(), filename, content_type or "application/octet-stream", data)
        self.uploads[upload.id] = upload
        return upload

    def attachment_json(self, upload_id: int) -> dict[str, Any]:
        upload = self.uploads[upload_id]
        url = f"{self._fake.url}/attachments/{upload.id}/{upload.filename}"
        return {
            "id": str(upload.id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
        }

    def _uploaded(self, raw: Any, what: str) -> int:
        try:
            upload_id = int(raw)
        except (TypeError, ValueError):
            upload_id = 0
        if upload_id not in self.uploads:
            # Discord's client sends an uploaded file's id, never text typed into the option.
            raise InteractionError(f"{what}: upload a file (Discord sends a file here, not text)")
        return upload_id

    async def command(
        self, user_id: int, channel_id: int, path: str, options: Mapping[str, Any] | None = None
    ) -> Interaction:
        """Run `/path` (e.g. "safari schedule") with `options` by name, as `user_id` in `channel_id`."""
        channel = self._fake.channel_record(channel_id)
        words = path.strip().lstrip("/").split()
        if not words:
            raise InteractionError("no command given")
        command = self._find_command(channel.guild_id, words[0])
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]  # as Discord says which guild's command it is
        resolved: dict[str, dict[str, Any]] = {}
        level, target = command, data
        for word in words[1:]:
            sub = next((o for o in level.get("options", []) if o["name"] == word), None)
            if sub is None or sub["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
                raise InteractionError(f"/{' '.join(words)}: there is no subcommand {word!r}")
            entry: dict[str, Any] = {"type": sub["type"], "name": word, "options": []}
            target.setdefault("options", []).append(entry)
            level, target = sub, entry
        if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in level.get("options", [])):
            raise InteractionError(f"/{' '.join(words)} needs a subcommand")
        given = dict(options or {})
        values = []
        for option in level.get("options", []):
            if option["name"] not in given or given[option["name"]] in (None, ""):
                if option.get("required"):
                    raise InteractionError(f"/{' '.join(words)}: {option['name']} is required")
                continue
            raw = given.pop(option["name"])
            values.append(
                {"name": option["name"], "type": option["type"], "value": self._option(option, raw)}
            )
            self._resolve(channel.guild_id, option["type"], raw, resolved)
        if given:
            raise InteractionError(f"/{' '.join(words)} has no option {', '.join(sorted(given))}")
        target["options"] = values
        if resolved:
            data["resolved"] = resolved
        return await self._create(APPLICATION_COMMAND, user_id, channel_id, data)

    async def click(self, user_id: int, message_id: int, custom_id: str) -> Interaction:
        message = self._fake.message(message_id)
        component = self._component(message, custom_id)
        if component.get("type") != 2:
            raise InteractionError(f"{custom_id!r} is not a button")
        if component.get("disabled"):
            raise InteractionError("that button is disabled")
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._create(MESSAGE_COMPONENT, user_id, message.channel_id, data, message)

    async def select(self, user_id: int, message_id: int, custom_id: str, values: list[str]) -> Interaction:
        message = self._fake.message(message_id)
        component = self._component(message, custom_id)
        kind = int(component.get("type", 0))
        if kind not in (3, 5, 6, 7, 8):
            raise InteractionError(f"{custom_id!r} is not a select")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind, "values": values}
        resolved: dict[str, dict[str, Any]] = {}
        option_type = {5: USER, 6: ROLE, 8: CHANNEL}.get(kind)
        if option_type is not None:
            for value in values:
                self._resolve(message.guild_id, option_type, value, resolved)
            data["resolved"] = resolved
        return await self._create(MESSAGE_COMPONENT, user_id, message.channel_id, data, message)

    async def submit(self, opened_by: int, values: Mapping[str, str | list[str]]) -> Interaction:
        """Submit the modal that interaction `opened_by` showed: text input values, and upload ids for
        file fields, by custom_id."""
        origin = self.by_id[opened_by]
        if origin.modal is None or not origin.modal_open:
            raise InteractionError("there is no open modal for that interaction")
        components = [self._filled(c, values) for c in origin.modal.get("components", [])]
        origin.modal_submitted = True
        data: dict[str, Any] = {"custom_id": origin.modal["custom_id"], "components": components}
        files = [v for c in _walk(components) if c.get("type") == FILE_UPLOAD for v in c["values"]]
        if files:
            data["resolved"] = {"attachments": {v: self.attachment_json(int(v)) for v in files}}
        source = self._fake.message(origin.source_message_id) if origin.source_message_id else None
        return await self._create(MODAL_SUBMIT, origin.user_id, origin.channel_id, data, source)

    def _filled(self, component: Mapping[str, Any], values: Mapping[str, str | list[str]]) -> dict[str, Any]:
        """A modal component as the submission carries it: text inputs with their value, file fields
        with the ids of the files uploaded into them."""
        kind = component.get("type")
        if kind == 4:
            value = values.get(component["custom_id"], "")
            return {"type": 4, "custom_id": component["custom_id"], "value": str(value)}
        if kind == FILE_UPLOAD:
            given = values.get(component["custom_id"]) or []
            ids = [str(self._uploaded(v, "file")) for v in ([given] if isinstance(given, str) else given)]
            least = component.get("min_values")
            if least is None:  # Discord's defaults: one file, unless the field is optional
                least = 0 if component.get("required") is False else 1
            if len(ids) < int(least):
                raise InteractionError("this form needs a file: pick one to upload")
            return {"type": FILE_UPLOAD, "custom_id": component["custom_id"], "values": ids}
        if kind == 18 and isinstance(component.get("component"), dict):  # a label around its input
            return {"type": 18, "component": self._filled(component["component"], values)}
        if kind == 1:
            return {
                "type": 1,
                "components": [self._filled(c, values) for c in component.get("components", [])],
            }
        return {"type": kind}

    def dismiss(self, opened_by: int) -> None:
        """Close the modal that interaction `opened_by` showed without submitting it."""
        origin = self.by_id[opened_by]
        if not origin.modal_open:
            raise InteractionError("there is no open modal for that interaction")
        origin.modal_dismissed = True

    async def wait_answered(self, interaction: Interaction, timeout: float = 10.0) -> Interaction:
        async with asyncio.timeout(timeout):
            await interaction.answered.wait()
        return interaction

    # ----- the bot's side (REST handlers) ----------------------------------------------------------------

    def owns(self, call: _Call) -> bool:
        """Whether a /webhooks/{id}/{token} call is the bot's follow-up or edit of an interaction."""
        token = call.params.get("webhook_token", "")
        return call.params.get("webhook_id") == str(self._fake.bot_user_id) and token in self._by_token

    def callback(self, call: _Call) -> tuple[int, Any]:
        from .rest import DiscordError

        interaction = self.by_id.get(call.int_param("interaction_id"))
        now = self._fake.clock()
        if interaction is None or interaction.token != call.params["interaction_token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.response_type is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if now - interaction.created > FIRST_RESPONSE_DEADLINE:
            interaction.refused.append("first response after 3 s: Unknown interaction")
            raise DiscordError(404, 10062, "Unknown interaction")
        kind = int(call.body.get("type", 0))
        data = call.body.get("data") or {}
        if kind == MODAL and interaction.type == MODAL_SUBMIT:
            raise DiscordError(400, 50035, "Invalid Form Body: a modal cannot answer a modal")
        if kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and interaction.source_message_id is None:
            raise DiscordError(400, 50035, "Invalid Form Body: there is no message to update")
        if kind == MESSAGE:
            interaction.original_message_id = self._post(interaction, data).id
        elif kind == DEFERRED_MESSAGE:
            interaction.original_message_id = self._placeholder(interaction, int(data.get("flags") or 0)).id
        elif kind == DEFERRED_UPDATE:
            interaction.original_message_id = interaction.source_message_id
        elif kind == UPDATE_MESSAGE:
            interaction.original_message_id = interaction.source_message_id
            self._edit(interaction.channel_id, interaction.source_message_id or 0, data)
        elif kind == MODAL:
            interaction.modal = data
        else:
            raise DiscordError(400, 50035, f"Invalid Form Body: callback type {kind} is not for this bot")
        interaction.response_type = kind
        interaction.responded_at = now
        interaction.answered.set()
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        return 200, self._callback_response(interaction, kind)

    def _callback_response(self, interaction: Interaction, kind: int) -> dict[str, Any]:
        """What `?with_response=true` answers (discord.py always asks for it)."""
        message_id = interaction.original_message_id if kind in (MESSAGE, DEFERRED_MESSAGE) else None
        message = None if message_id is None else self._fake.message(message_id)
        resource: dict[str, Any] = {"type": kind}
        if kind in (MESSAGE, UPDATE_MESSAGE) and interaction.original_message_id is not None:
            resource["message"] = self._fake.message_json(self._fake.message(interaction.original_message_id))
        return {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": None if message_id is None else str(message_id),
                "response_message_loading": kind == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
            },
            "resource": resource,
        }

    def followup(self, call: _Call) -> tuple[int, Any]:
        interaction = self._live(call)
        original = interaction.original_message_id
        placeholder = self._fake.message(original) if original is not None else None
        if interaction.response_type == DEFERRED_MESSAGE and placeholder and placeholder.flags & LOADING:
            # The first follow-up after a deferred answer replaces the "thinking…" message, and
            # keeps the ephemeral setting chosen when deferring.
            body = {
                **call.body,
                "flags": (int(call.body.get("flags") or 0) & ~EPHEMERAL) | (placeholder.flags & EPHEMERAL),
            }
            return 200, self._edit(interaction.channel_id, placeholder.id, body)
        message = self._post(interaction, call.body)
        interaction.followup_ids.append(message.id)
        return 200, self._fake.message_json(message)

    def original(self, call: _Call, method: str) -> tuple[int, Any]:
        from .rest import DiscordError

        interaction = self._live(call)
        raw = call.params.get("message_id", "@original")
        message_id = interaction.original_message_id if raw == "@original" else int(raw)
        mine = {interaction.original_message_id, *interaction.followup_ids}
        if message_id is None or message_id not in mine:
            raise DiscordError(404, 10008)
        if method == "GET":
            return 200, self._fake.message_json(self._fake.message(message_id))
        if method == "DELETE":
            self._fake.message(message_id).deleted = True
            return 204, None
        return 200, self._edit(interaction.channel_id, message_id, call.body)

    # ----- plumbing --------------------------------------------------------------------------------------

    def _live(self, call: _Call) -> Interaction:
        from .rest import DiscordError

        interaction = self._by_token.get(call.params.get("webhook_token", ""))
        if interaction is None or self._fake.clock() - interaction.created > TOKEN_LIFETIME:
            raise DiscordError(404, 10015)
        if interaction.response_type is None:
            # Discord: follow-ups and edits need the interaction to be acknowledged first.
            raise DiscordError(404, 10015)
        return interaction

    async def _create(
        self,
        kind: int,
        user_id: int,
        channel_id: int,
        data: dict[str, Any],
        message: FakeMessage | None = None,
    ) -> Interaction:
        fake = self._fake
        channel = fake.channel_record(channel_id)
        interaction = Interaction(
            id=fake.new_id(),
            token=f"aW50ZXJhY3Rpb24{secrets.token_urlsafe(60)}",
            type=kind,
            user_id=user_id,
            guild_id=channel.guild_id,
            channel_id=channel_id,
            created=fake.clock(),
            data=data,
            source_message_id=None if message is None else message.id,
        )
        self.by_id[interaction.id] = interaction
        self._by_token[interaction.token] = interaction
        payload = fake.interaction_payload(interaction, message)
        if not await fake.gateway.dispatch("INTERACTION_CREATE", payload):
            raise InteractionError("the bot is not connected to the local Discord")
        return interaction

    def _find_command(self, guild_id: int | None, name: str) -> dict[str, Any]:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    if guild_id is None and not usable_in_dms(command):
                        raise InteractionError(
                            f"/{name} cannot be used in DMs (the bot allows it in servers only)"
                        )
                    return command
        raise InteractionError(f"/{name} is not a command the bot registered")

    def _option(self, option: Mapping[str, Any], raw: Any) -> Any:
        kind = option["type"]
        if kind == ATTACHMENT:
            return str(self._uploaded(raw, option["name"]))
        try:
            if kind == INTEGER:
                value: Any = int(raw)
            elif kind == NUMBER:
                value = float(raw)
            elif kind == BOOLEAN:
                value = raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes", "on")
            else:
                value = str(raw)
        except ValueError:
            raise InteractionError(f"{option['name']}: {raw!r} is not a valid value") from None
        choices = option.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise InteractionError(f"{option['name']}: choose one of {[c['name'] for c in choices]}")
        return value

    def _resolve(
        self, guild_id: int | None, kind: int, raw: Any, resolved: dict[str, dict[str, Any]]
    ) -> None:
        fake = self._fake
        key = str(raw)
        if kind == USER:
            user = fake.user(int(raw))
            resolved.setdefault("users", {})[key] = user.json()
            guild = fake.guild(guild_id) if guild_id else None
            if guild is not None and user.id in guild.members:
                member = guild.member_json(user, with_permissions=True)
                member.pop("user")
                resolved.setdefault("members", {})[key] = member
        elif kind == ROLE and guild_id:
            resolved.setdefault("roles", {})[key] = fake.guild(guild_id).roles[int(raw)].json()
        elif kind == CHANNEL:
            record = fake.channel_record(int(raw))
            resolved.setdefault("channels", {})[key] = {**fake.channel_json(record), "permissions": "0"}
        elif kind == ATTACHMENT:
            resolved.setdefault("attachments", {})[key] = self.attachment_json(int(raw))

    @staticmethod
    def _component(message: FakeMessage, custom_id: str) -> dict[str, Any]:
        def walk(items: list[Any]) -> dict[str, Any] | None:
            for item in items:
                if not isinstance(item, dict):
                    continue
                if item.get("custom_id") == custom_id:
                    return item
                nested = list(item.get("components") or [])
                if isinstance(item.get("accessory"), dict):
                    nested.append(item["accessory"])
                found = walk(nested)
                if found is not None:
                    return found
            return None

        found = walk(message.components)
        if found is None:
            raise InteractionError(f"message {message.id} has no component {custom_id!r}")
        return found

    def _post(self, interaction: Interaction, data: Mapping[str, Any]) -> FakeMessage:
        message = self._fake.create_message_as_bot(interaction.channel_id, dict(data))
        message.interaction_user_id = interaction.user_id
        return message

    def _placeholder(self, interaction: Interaction, flags: int) -> FakeMessage:
        message = self._fake.placeholder_message(interaction.channel_id, (flags & EPHEMERAL) | LOADING)
        message.interaction_user_id = interaction.user_id
        return message

    def _edit(self, channel_id: int, message_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._fake.edit_message_as_bot(channel_id, message_id, dict(body))


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for c in components:
        found.append(c)
        found.extend(_walk(c.get("components") or []))
        if isinstance(c.get("component"), dict):
            found.extend(_walk([c["component"]]))
    return found


BOT_DM = 1  # the interaction context of a DM with the bot


def usable_in_dms(command: Mapping[str, Any]) -> bool:
    """Whether Discord offers this global command in a DM with the bot: its contexts include
    BOT_DM (no contexts: every context), and the older dm_permission is not false."""
    contexts = command.get("contexts")
    return command.get("dm_permission") is not False and (contexts is None or BOT_DM in contexts)
