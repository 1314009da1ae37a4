"""Fixtures only (helpers live in tests/support/): the time-skipping server from its PyPI wheel,
the real dev server, their clients with the tests' encryption key."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stack.devserver import DevServer, free_port
from tests.support.stack import Stack, running_stack
from tests.support.temporal import connect_client
from tests.support.time_skipping import (
    WALL_CLOCK_MARK,
    NamespaceEnvironment,
    SharedServer,
    start_time_server,
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
async def shared_time_server() -> AsyncIterator[SharedServer]:
    shared = SharedServer()
    try:
        yield shared
    finally:
        await shared.discard()


@pytest_asyncio.fixture(loop_scope="session")
async def time_env(
    shared_time_server: SharedServer, request: pytest.FixtureRequest
) -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server, in a namespace of this test's own: hours of timers pass
    in milliseconds. One server for the run, its clock far from the wall clock; a test marked
    `wall_clock` gets its own, started at the wall clock's time (see tests/support/time_skipping.py).
    Tests share the session's event loop with it (pyproject.toml).
    """
    if request.node.get_closest_marker(WALL_CLOCK_MARK):
        own = await start_time_server()
        yield NamespaceEnvironment(own, f"test-{uuid.uuid4().hex[:12]}")
        await own.shutdown()
        return
    env = NamespaceEnvironment(await shared_time_server.get(), f"test-{uuid.uuid4().hex[:12]}")
    yield env
    await env.terminate_open_workflows()
    if not await env.time_skips():
        await shared_time_server.discard()


@pytest_asyncio.fixture(loop_scope="module")
async def stack(server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """Dev server + fake Discord + `python worker.py` (see tests/support/stack.py)."""
    async with running_stack(server, tmp_path) as running:
        yield running
