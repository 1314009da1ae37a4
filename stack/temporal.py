"""The one way every process connects to Temporal: pydantic payloads, encrypted, with
failure messages encrypted too."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from stack.codec import EncryptionCodec
from stack.settings import Settings, check_address


def data_converter(keys: Sequence[bytes]) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# The settings the SDK's environment configuration reads, under the same names.
ENVCONFIG_SETTINGS = (
    "temporal_address",
    "temporal_namespace",
    "temporal_api_key",
    "temporal_tls",
    "temporal_tls_client_cert_path",
    "temporal_tls_client_key_path",
    "temporal_tls_server_ca_cert_path",
    "temporal_tls_server_name",
)
DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Connection:
    """Where and how to connect, resolved from the profile file and the settings."""

    address: str
    namespace: str
    api_key: str | None = None
    tls: bool | TLSConfig = False
    rpc_metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _envconfig_vars(settings: Settings) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in ENVCONFIG_SETTINGS:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[name.upper()] = str(value)
    return env


def connection(settings: Settings) -> Connection:
    """The connection as the SDK's `temporalio.envconfig` resolves it (the CLI does the same):
    profile TEMPORAL_PROFILE of TEMPORAL_CONFIG_FILE, overridden by the TEMPORAL_* settings.
    A bad profile, file or certificate stops start-up with one line."""
    config_file = settings.temporal_config_file
    if config_file is not None and not config_file.is_file():
        raise SystemExit(f"configuration error: TEMPORAL_CONFIG_FILE: {config_file} is not a file")
    try:
        profile = ClientConfigProfile.load(
            settings.temporal_profile, config_source=config_file, override_env_vars=_envconfig_vars(settings)
        )
        found = profile.to_client_connect_config()
    except Exception as err:  # the SDK's ConfigError, or a certificate file that cannot be read
        where = settings.temporal_profile or "default"
        raise SystemExit(f"configuration error: Temporal profile {where!r}: {err}") from None
    address = found.get("target_host") or DEFAULT_ADDRESS
    try:
        check_address(address)
    except ValueError as err:
        raise SystemExit(f"configuration error: TEMPORAL_ADDRESS (or the profile's address): {err}") from None
    return Connection(
        address=address,
        namespace=found.get("namespace") or DEFAULT_NAMESPACE,
        api_key=found.get("api_key"),
        tls=found.get("tls", False),
        rpc_metadata=found.get("rpc_metadata", {}),
    )


async def connect(
    settings: Settings, *, identity: str | None = None, runtime: Runtime | None = None
) -> Client:
    keys = settings.aes_keys()
    if not keys:
        raise SystemExit(
            "configuration error: ENCRYPTION_KEYS: not set "
            "(`make run` generates one; see README for production)"
        )
    target = connection(settings)
    return await Client.connect(
        target.address,
        namespace=target.namespace,
        api_key=target.api_key,
        tls=target.tls,
        rpc_metadata=target.rpc_metadata,
        data_converter=data_converter(keys),
        identity=identity,
        runtime=runtime,
    )
