"""Who and what is in the local Discord: guilds, their roles and members, as Discord's JSON shows them.

The REST API and the gateway read the same world, so the bot's GUILD_CREATE, an interaction's
`member` and `app_permissions`, and the page all agree on who holds which role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
# What @everyone may do in a fresh guild, near enough for the bot's checks.
EVERYONE = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
EVERYONE |= USE_APPLICATION_COMMANDS
# What the README asks the bot to be invited with.
BOT_PERMISSIONS = EVERYONE | MANAGE_WEBHOOKS

JOINED_AT = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


@dataclass
class User:
    id: int
    name: str
    bot: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name.lower().replace(" ", "_"),
            "discriminator": "0",
            "global_name": self.name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 1

    def json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    # user id -> role ids (the @everyone role is implied, as on Discord)
    members: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The @everyone role has the guild's id.
        self.roles.setdefault(self.id, Role(self.id, "@everyone", EVERYONE, position=0))

    def permissions(self, user_id: int) -> int:
        """A member's guild-wide permissions (Administrator implies all, as on Discord)."""
        if user_id == self.owner_id:
            return (1 << 53) - 1
        value = self.roles[self.id].permissions
        for role_id in self.members.get(user_id, []):
            value |= self.roles[role_id].permissions
        return (1 << 53) - 1 if value & ADMINISTRATOR else value

    def member_json(self, user: User, *, with_permissions: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": user.json(),
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in self.members.get(user.id, [])],
            "joined_at": JOINED_AT,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_permissions:
            data["permissions"] = str(self.permissions(user.id))
        return data
