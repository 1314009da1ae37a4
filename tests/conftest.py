"""Fixtures only (helpers live in tests/support/): the time-skipping server from its PyPI wheel,
the real dev server, their clients with the tests' encryption key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stack.devserver import DevServer, free_port
from stack.temporal import data_converter
from tests.support.stack import Stack, running_stack
from tests.support.temporal import (
    TEST_KEY,
    binary,
    connect_client,
    quiet_runtime,
    register_search_attributes,
    terminate_open_workflows,
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[DevServer]:
    """The real dev server (in memory, no UI), one per test module that asks for it."""
    async with DevServer(port=free_port(), headless=True) as dev:
        yield dev


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server: DevServer) -> Client:
    return await connect_client(server)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server, one for the whole run (starting one takes seconds)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter([TEST_KEY]),
        test_server_existing_path=binary("temporal-test-server"),
        runtime=quiet_runtime(),
    )
    await register_search_attributes(env)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def time_env(shared_time_env: WorkflowEnvironment) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping server: hours of timers pass in milliseconds.

    Shared by every test (tests run in the session's event loop, see pyproject.toml). After each
    test its workflows still running are terminated: the server skips time while any test waits,
    and a leftover timer firing then would leave a workflow task no worker takes, which stops
    time skipping for every later test. Its clock only moves forward, so a test never assumes it
    is near the wall clock.
    """
    yield shared_time_env
    await terminate_open_workflows(shared_time_env.client)


@pytest_asyncio.fixture(loop_scope="module")
async def stack(server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """Dev server + fake Discord + `python worker.py` (see tests/support/stack.py)."""
    async with running_stack(server, tmp_path) as running:
        yield running
