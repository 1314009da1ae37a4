"""The whisper seal: whisper text encrypted again, with WHISPER_KEYS, before it leaves the bot.

Every payload is already encrypted by the codec (ENCRYPTION_KEYS), but operators hold that key
to see payloads in the Web UI. The whisper key is held by the bot alone (the workflow only
stores and returns the sealed text), so the codec key opens a whisper's payloads and still
shows no text.

A sealed text is `w1.<key id>.<base64 nonce + ciphertext>`. The first key seals, every key
opens (rotation, as with ENCRYPTION_KEYS). The whisper id, the recipient and the key id are the
AES-GCM associated data: a sealed text copied into another whisper, or relabelled to another
key, does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stack.settings import Settings, _decode_key

VERSION = "w1"
_NONCE_BYTES = 12


class SealBroken(ValueError):
    """A sealed text that does not open: another whisper's, another key's, or tampered with."""


def seal_key_id(key: bytes) -> str:
    """A non-secret fingerprint of a whisper key (unrelated to the codec's key ids)."""
    return hashlib.sha256(b"whisper-key:" + key).hexdigest()[:16]


def _associated(whisper_id: str, recipient_id: int, key_id: str) -> bytes:
    return f"{VERSION}\0{key_id}\0{whisper_id}\0{recipient_id}".encode()


class WhisperSeal:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("WhisperSeal needs at least one key")
        self._seal_id = seal_key_id(keys[0])
        self._by_id = {seal_key_id(key): AESGCM(key) for key in keys}

    def seal(self, text: str, *, whisper_id: str, recipient_id: int) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        aad = _associated(whisper_id, recipient_id, self._seal_id)
        sealed = self._by_id[self._seal_id].encrypt(nonce, text.encode(), aad)
        return f"{VERSION}.{self._seal_id}.{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, whisper_id: str, recipient_id: int) -> str:
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        if version != VERSION or not body:
            raise SealBroken("not a sealed whisper text")
        aes = self._by_id.get(key_id)
        if aes is None:
            raise SealBroken(f"sealed with unknown whisper key {key_id}")
        try:
            data = base64.b64decode(body, validate=True)
            plain = aes.decrypt(
                data[:_NONCE_BYTES], data[_NONCE_BYTES:], _associated(whisper_id, recipient_id, key_id)
            )
        except (binascii.Error, ValueError, InvalidTag):
            raise SealBroken("the sealed text does not belong to this whisper") from None
        return plain.decode()


def whisper_seal(settings: Settings) -> WhisperSeal | None:
    """The seal from WHISPER_KEYS, or None when none is configured (whispers cannot be sent)."""
    keys = [_decode_key(key.get_secret_value()) for key in settings.whisper_keys]
    return WhisperSeal(keys) if keys else None
