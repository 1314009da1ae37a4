"""Settings from the environment and an optional `.env` file.

Every process reads the same names, so one `.env` configures the whole stack.
A missing or malformed value stops start-up with one line naming it.
"""

from __future__ import annotations

import base64
import binascii
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TASK_QUEUE = "discord-scheduler"
RENAMED = {
    "temporal_tls_cert": "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "temporal_tls_key": "TEMPORAL_TLS_CLIENT_KEY_PATH",
}


def check_address(value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("must be host:port")


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

    # An empty value counts as unset (docker-compose.yml passes optional settings as `${X:-}`).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    # The connection, read as the SDK's environment configuration reads it (stack/temporal.py
    # `connection()`): these variables override the profile TEMPORAL_PROFILE (default "default")
    # of TEMPORAL_CONFIG_FILE (default ~/.config/temporalio/temporal.toml), as for the CLI.
    temporal_address: str | None = None
    temporal_namespace: str | None = None
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool | None = None
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None
    temporal_tls_server_ca_cert_path: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_profile: str | None = None
    temporal_config_file: Path | None = None
    # Old names, refused so that a deployment using them does not silently connect without TLS.
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None

    temporal_task_queue: str = DEFAULT_TASK_QUEUE

    discord_token: SecretStr | None = None
    # Only tests point this elsewhere (the fake Discord on loopback).
    discord_api_base: str | None = None
    discord_dev_guild: int | None = None
    # How long a minute typed in the Safari modal lasts: 60, unless a demo or a test of the
    # playground wants its reminders in fast-forward.
    safari_minute_seconds: float = Field(default=60.0, gt=0, le=60)

    # Base64 AES keys; the first encrypts, all decrypt (so a key can be rotated).
    # Not secret-free by default: the dev stack generates one into the data directory.
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    codec_token: SecretStr | None = None
    # Base64 AES keys that seal whisper text inside the payload (stack/sealing.py), same format.
    whisper_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    data_dir: Path = Path(".data")

    # Prometheus /metrics of the SDK's runtime (off when unset); the two differ so that both
    # processes can run on one machine (`make run`).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    bot_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"

    # Worker Versioning (stack/versioning.py): the worker deployment a worker joins (default: the
    # task queue's name), its build id (default: stack/build_id.py's hash of the code), and who
    # makes a build the deployment's current version.
    worker_deployment_name: str | None = Field(default=None, min_length=1, pattern=r"^[^.]+$")
    worker_build_id: str | None = Field(default=None, min_length=1, max_length=255)
    worker_rollout: Literal["new", "always", "manual"] = "new"

    @field_validator("encryption_keys", "whisper_keys", mode="before")
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
    def _check_address(cls, value: str | None) -> str | None:
        if value is not None:
            check_address(value)
        return value

    @field_validator("temporal_tls_cert", "temporal_tls_key")
    @classmethod
    def _refuse_old_names(cls, value: str | None, info: ValidationInfo) -> None:
        if value is not None:
            new = RENAMED[info.field_name or ""]
            raise ValueError(f"renamed: set {new} instead (the name the Temporal CLI and SDKs read)")

    def aes_keys(self) -> list[bytes]:
        return [_decode_key(key.get_secret_value()) for key in self.encryption_keys]


@dataclass(frozen=True)
class Feature:
    """What one feature of a process reads: without a `required` setting the feature does not work
    (the process may still start, as the bot does without WHISPER_KEYS); `optional` ones have
    defaults. Environment names."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


CONNECTION = Feature(
    optional=(
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_API_KEY",
        "TEMPORAL_TLS",
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_SERVER_NAME",
        "TEMPORAL_PROFILE",
        "TEMPORAL_CONFIG_FILE",
        "TEMPORAL_TASK_QUEUE",
    )
)
PAYLOADS = Feature(required=("ENCRYPTION_KEYS",))
DISCORD = Feature(required=("DISCORD_TOKEN",), optional=("DISCORD_API_BASE",))
LOGS = Feature(optional=("LOG_FORMAT",))

# Every process of a deployment (worker.py, `python -m bot`, `python -m stack.codec_server`) by its
# features, and the settings each reads. docker-compose.yml gives each process exactly these:
# every required one, and nothing outside them (tests/ops/test_compose.py), and
# tests/ops/test_process_settings.py checks them against what each process's code reads.
PROCESS_FEATURES: dict[str, dict[str, Feature]] = {
    "worker": {
        "connection": CONNECTION,
        "payload encryption": PAYLOADS,
        "discord": DISCORD,
        "metrics": Feature(optional=("WORKER_METRICS_PORT", "METRICS_HOST")),
        "logs": LOGS,
        "versioning": Feature(optional=("WORKER_DEPLOYMENT_NAME", "WORKER_BUILD_ID", "WORKER_ROLLOUT")),
    },
    "bot": {
        "connection": CONNECTION,
        "payload encryption": PAYLOADS,
        "discord": Feature(required=DISCORD.required, optional=(*DISCORD.optional, "DISCORD_DEV_GUILD")),
        # Without it every /whisper send is refused (stack/sealing.py).
        "whispers": Feature(required=("WHISPER_KEYS",)),
        "safari": Feature(optional=("SAFARI_MINUTE_SECONDS",)),
        "metrics": Feature(optional=("BOT_METRICS_PORT", "METRICS_HOST")),
        "logs": LOGS,
    },
    "codec server": {
        "payload encryption": PAYLOADS,
        "codec": Feature(required=("CODEC_TOKEN",)),
        "logs": LOGS,
    },
}
# Read by `make run` alone (stack/launcher.py), which hands the rest down to its children.
DEV_STACK_ONLY = ("DATA_DIR",)


def process_settings(process: str) -> tuple[dict[str, str], set[str]]:
    """A process's required settings (name -> the feature that needs it) and every setting it reads."""
    required: dict[str, str] = {}
    read: set[str] = set()
    for name, feature in PROCESS_FEATURES[process].items():
        required.update(dict.fromkeys(feature.required, name))
        read.update(feature.required, feature.optional)
    return required, read


def load_settings(**overrides: object) -> Settings:
    """Load settings, or exit with one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        # Settings are named as the environment names them: TEMPORAL_ADDRESS, not temporal_address.
        first = err.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        sys.exit(f"configuration error: {name}: {first['msg']}")
