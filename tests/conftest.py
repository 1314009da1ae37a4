"""Shared fixtures: the time-skipping server from its PyPI wheel, and a test encryption key."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from stack.devserver import DevServer, free_port
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


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 30.0) -> None:
    """Poll `check` (plain or async) until it holds; fail after `timeout` seconds."""
    end = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = check()
        if await outcome if isinstance(outcome, Awaitable) else outcome:
            return
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.05)


async def connect_client(server: DevServer) -> Client:
    """A client of a dev server with the tests' encryption key, as the bot and worker have."""
    return await Client.connect(server.address, data_converter=data_converter([TEST_KEY]))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[DevServer]:
    """The real dev server (in memory, no UI), one per test module that asks for it."""
    async with DevServer(port=free_port(), headless=True) as dev:
        yield dev


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server: DevServer) -> Client:
    return await connect_client(server)


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
