"""The one way every process connects to Temporal: pydantic payloads, encrypted, with
failure messages encrypted too."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from stack.codec import EncryptionCodec
from stack.settings import Settings


def data_converter(keys: Sequence[bytes]) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _tls(settings: Settings) -> bool | TLSConfig:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(
    settings: Settings, *, identity: str | None = None, runtime: Runtime | None = None
) -> Client:
    keys = settings.aes_keys()
    if not keys:
        raise SystemExit(
            "configuration error: ENCRYPTION_KEYS: not set "
            "(`make run` generates one; see README for production)"
        )
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key,
        tls=_tls(settings),
        data_converter=data_converter(keys),
        identity=identity,
        runtime=runtime,
    )
