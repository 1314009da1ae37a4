"""Which Discord the bot and the worker talk to: the real one, or `DISCORD_API_BASE` (the local
Discord of the playground and the tests)."""

from __future__ import annotations

import discord


def point_at(api_base: str | None) -> None:
    """Send discord.py's REST requests to `api_base` instead of Discord; its gateway URL then comes
    from that API's `GET /gateway/bot`, so the bot's gateway follows."""
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
