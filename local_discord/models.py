"""What the fake records. Plain dataclasses so the /_fake endpoints can ship them as JSON (``asdict``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeMessage:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int  # the bot user, or the webhook id for webhook messages (as on Discord)
    content: str
    components: list[Any]
    embeds: list[Any]
    flags: int
    nonce: str | int | None
    webhook_id: int | None
    index: int  # creation order across all channels
    dm_recipient_id: int | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)  # {"filename", "size"} per upload
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)  # each PATCH body, in order
    edited_at: str | None = None
    # Set on the bot's answers to an interaction: who used it (an ephemeral answer is theirs alone).
    interaction_user_id: int | None = None
    # A webhook post's own name (`username`), shown instead of the webhook's.
    username: str | None = None


@dataclass
class FakeWebhook:
    id: int
    token: str
    channel_id: int
    guild_id: int | None
    name: str
    index: int
    deleted: bool = False
    # The bot's application for webhooks it created; None for one a user made (components ignored
    # unless the request says with_components=true).
    application_id: int | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str  # relative to /api/v10, e.g. /channels/1/messages
    query: dict[str, str]
    json: Any | None  # the JSON body, or multipart payload_json
    headers: dict[str, str]
    status: int = 0  # filled in once answered
    unexpected: bool = False  # no such route in the fake
    fault: bool = False  # answered by an injected fault


@dataclass
class Violation:
    """A request the real Discord would refuse (or that the fake does not implement)."""

    method: str
    path: str
    kind: str  # body | query | path | invalid_json | unknown_route | limit
    errors: list[str]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.kind}]: " + "; ".join(self.errors)


@dataclass
class Fault:
    method: str  # HTTP method or "*"
    path_regex: str  # re.search against the path relative to /api/v10
    status: int
    times: int  # how many more times it fires
    retry_after: float = 0.05
    code: int | None = None
    message: str | None = None
    lose_response: bool = False  # the request takes effect, then the client sees the fault
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0 and self.method in ("*", method) and re.search(self.path_regex, path) is not None
        )
