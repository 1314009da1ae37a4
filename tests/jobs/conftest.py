"""Fixtures of the jobs' workflow tests: the action doubles and a worker hosting them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.jobs_doubles import Doubles
from worker import build_worker


@pytest.fixture
async def doubles(time_env: WorkflowEnvironment) -> Doubles:
    return Doubles(time_env)


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, doubles: Doubles) -> AsyncIterator[Worker]:
    async with build_worker(time_env.client, "jobs", doubles.activities()) as running:
        yield running
