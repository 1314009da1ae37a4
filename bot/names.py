"""The names the bot sees at the moment it starts something, handed to a feature's client for
what operators read in the Web UI (`clients.names`)."""

from __future__ import annotations

from typing import Any

import discord

from clients.names import Names


def names_of(interaction: discord.Interaction[Any], channel: object | None = None) -> Names:
    """The channel's name (`channel`, else where the interaction came from; a DM has none) and
    the member's display name."""
    name = getattr(channel if channel is not None else interaction.channel, "name", None)
    return Names(channel=name if isinstance(name, str) else None, member=interaction.user.display_name)
