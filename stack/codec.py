"""AES-GCM payload encryption, so whisper text and job payloads never sit in plain text
in the server's database or the Web UI.

The first key encrypts; every key decrypts, matched by a short key id stored beside the
ciphertext, so a key can be rotated by putting the new one first and keeping the old.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
_NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    """A non-secret fingerprint of a key, stored with each payload to pick the key back."""
    return hashlib.sha256(b"payload-key:" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        self._encrypt_id = key_id(keys[0]).encode()
        self._encrypt = AESGCM(keys[0])
        self._by_id = {key_id(key).encode(): AESGCM(key) for key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encode_one(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(payload) for payload in payloads]

    def _encode_one(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        # The key id is authenticated too, so a payload cannot be relabelled to another key.
        sealed = self._encrypt.encrypt(nonce, payload.SerializeToString(), self._encrypt_id)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": self._encrypt_id},
            data=nonce + sealed,
        )

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        wanted = payload.metadata.get("encryption-key-id", b"")
        aes = self._by_id.get(wanted)
        if aes is None:
            raise ValueError(f"payload encrypted with unknown key id {wanted.decode(errors='replace')}")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        decoded = Payload()
        decoded.ParseFromString(aes.decrypt(nonce, sealed, wanted))
        return decoded
