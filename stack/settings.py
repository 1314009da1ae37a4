"""Settings from the environment and an optional `.env` file.

Every process reads the same names, so one `.env` configures the whole stack.
A missing or malformed value stops start-up with one line naming it.
"""

from __future__ import annotations

import base64
import binascii
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TASK_QUEUE = "discord-scheduler"


def _decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("is not valid base64") from err
    if len(key) not in (16, 24, 32):
        raise ValueError(f"decodes to {len(key)} bytes; AES-GCM needs 16, 24 or 32")
    return key


class Settings(BaseSettings):
    """The stack's configuration. Environment names are the field names in capitals."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = DEFAULT_TASK_QUEUE
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None

    discord_token: SecretStr | None = None
    # Only tests point this elsewhere (the fake Discord on loopback).
    discord_api_base: str | None = None
    discord_dev_guild: int | None = None

    # Base64 AES keys; the first encrypts, all decrypt (so a key can be rotated).
    # Not secret-free by default: the dev stack generates one into the data directory.
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    codec_token: SecretStr | None = None

    data_dir: Path = Path(".data")

    # Prometheus /metrics of the SDK's runtime (off when unset); the two differ so that both
    # processes can run on one machine (`make run`).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    bot_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for index, item in enumerate(value):
                text = item.get_secret_value() if isinstance(item, SecretStr) else str(item)
                try:
                    _decode_key(text)
                except ValueError as err:
                    raise ValueError(f"key {index + 1} {err}") from None
        return value

    @field_validator("temporal_address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be host:port")
        return value

    def aes_keys(self) -> list[bytes]:
        return [_decode_key(key.get_secret_value()) for key in self.encryption_keys]


def load_settings(**overrides: object) -> Settings:
    """Load settings, or exit with one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        # Settings are named as the environment names them: TEMPORAL_ADDRESS, not temporal_address.
        first = err.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        sys.exit(f"configuration error: {name}: {first['msg']}")
