"""Shared fixtures: the time-skipping server from its PyPI wheel, and a test encryption key."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from stack.temporal import data_converter
from workflows import search_attributes as sa

BIN = Path(sys.executable).parent
TEST_KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install the project with `make test` (uv sync)")
    return str(path)


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    kinds = {
        SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        SearchAttributeIndexedValueType.DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    }
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: kinds[key.indexed_value_type] for key in sa.ALL},
        )
    )


@pytest.fixture
def converter() -> DataConverter:
    return data_converter([TEST_KEY])


@pytest.fixture
async def time_env(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server: hours of timers pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter, test_server_existing_path=binary("temporal-test-server")
    )
    await register_search_attributes(env)
    try:
        yield env
    finally:
        await env.shutdown()
