"""The local Discord: Discord's REST API, gateway and interactions on loopback, which discord.py talks
to unchanged (``discord.http.Route.BASE``). It is the playground that `make run` starts without a token
(``python -m local_discord --playground``) and what the end-to-end tests run against; every request is
checked against Discord's OpenAPI document and refused where Discord would refuse it.

In-process: ``async with FakeDiscord() as fake``. Out of process: ``python -m local_discord --port-file
PATH`` and ``FakeDiscordRemote(base_url)``.
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
