"""A fake Discord REST API for tests: discord.py talks real HTTP to it (set ``discord.http.Route.BASE``).

In-process: ``async with FakeDiscord() as fake``. Out of process: ``python -m local_discord --port-file
PATH`` and ``FakeDiscordRemote(base_url)``. Every request body is checked against Discord's OpenAPI spec.
"""

from .models import FakeMessage, FakeWebhook, Fault, RecordedRequest, Violation
from .openapi import load_spec
from .remote import FakeDiscordRemote
from .rest import API_PREFIX, DiscordError, FakeDiscord

__all__ = [
    "API_PREFIX",
    "DiscordError",
    "FakeDiscord",
    "FakeDiscordRemote",
    "FakeMessage",
    "FakeWebhook",
    "Fault",
    "RecordedRequest",
    "Violation",
    "load_spec",
]
