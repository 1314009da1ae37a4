"""The tests' whisper key (WHISPER_KEYS), apart from the payload key: the codec never holds it."""

from __future__ import annotations

import base64

from stack.sealing import WhisperSeal

WHISPER_KEY = bytes(range(100, 132))
OTHER_WHISPER_KEY = bytes(range(132, 164))
# As the environment gives it to the bot (and `make run` writes it into the data directory).
WHISPER_KEYS = base64.b64encode(WHISPER_KEY).decode()


def whisper_seal() -> WhisperSeal:
    return WhisperSeal([WHISPER_KEY])
