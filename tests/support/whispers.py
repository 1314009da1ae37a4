"""The tests' whisper key (WHISPER_KEYS), apart from the payload key: the codec never holds it."""

from __future__ import annotations

import base64
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle

from stack.sealing import WhisperSeal

WHISPER_KEY = bytes(range(100, 132))
OTHER_WHISPER_KEY = bytes(range(132, 164))
# As the environment gives it to the bot (and `make run` writes it into the data directory).
WHISPER_KEYS = base64.b64encode(WHISPER_KEY).decode()


def whisper_seal() -> WhisperSeal:
    return WhisperSeal([WHISPER_KEY])


class _RecordStarts(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, started: list[str]) -> None:
        super().__init__(next)
        self._started = started

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        self._started.append(input.id)
        return await super().start_workflow(input)


class StartRecorder(Interceptor):
    """Notes the id of every workflow start a client sends (the time-skipping server cannot
    list workflows, so "nothing was started" is checked at the client)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _RecordStarts(next, self.started)


def recording(client: Client) -> tuple[Client, StartRecorder]:
    """The same connection and converter, every start noted."""
    recorder = StartRecorder()
    config = client.config()
    config["interceptors"] = [*config["interceptors"], recorder]
    return Client(**config), recorder
