"""Fixtures only (helpers live in tests/support/): the time-skipping server from its PyPI wheel,
the real dev server, their clients with the tests' encryption key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from stack.devserver import DevServer, free_port
from stack.temporal import data_converter
from tests.support.stack import Stack, running_stack
from tests.support.temporal import TEST_KEY, binary, connect_client, register_search_attributes


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


@pytest_asyncio.fixture(loop_scope="module")
async def stack(server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """Dev server + fake Discord + `python worker.py` (see tests/support/stack.py)."""
    async with running_stack(server, tmp_path) as running:
        yield running
