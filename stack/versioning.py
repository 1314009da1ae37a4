"""Worker Versioning: every worker joins a worker deployment with its build as the version.

The deployment's current version is the build that new workflows and every waiting one run on,
so a rollout is `temporal worker deployment set-current-version` to the new build (or
`set-ramping-version` for a share of it) while both builds' workers run, and a rollback is the
same command with the old build (README.md, "Rolling out a new build").

Every workflow is AUTO_UPGRADE (the worker's default): at its next task it moves to the current
build. Jobs, whispers and turns wait for days, stores and health checks never end: PINNED would
keep each old build's workers running until its last job ended, and a fix could never reach the
jobs already waiting. Moving them is safe because a change that running executions would replay
differently already goes behind `workflow.patched` and the replay tests (tests/replay/) hold
every build to the recorded histories.

WORKER_ROLLOUT says who makes a build current when its worker starts:
- `new` (default): a build that has never been current or ramping makes itself current, so a new
  build rolls out as its first worker starts, as unversioned workers did; a restarted worker of an
  older build never takes the deployment back from a newer one (a rollback is an operator's);
- `always`: every start makes the build current (`make run`: the code just started is what runs);
- `manual`: never; the build's workers poll and wait for an operator's command.
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.api.deployment.v1 import WorkerDeploymentInfo
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentResponse,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

from stack.build_id import code_build_id
from stack.settings import Settings

log = logging.getLogger("worker.versioning")

# How long a starting worker waits for the server to list its version (its first poll registers
# it, within a second on the dev server) before it goes on without having checked.
REGISTER_TIMEOUT = 30.0


def deployment_version(settings: Settings) -> WorkerDeploymentVersion:
    """This worker's version: WORKER_DEPLOYMENT_NAME (default: the task queue) and its build."""
    return WorkerDeploymentVersion(
        deployment_name=settings.worker_deployment_name or settings.temporal_task_queue,
        build_id=settings.worker_build_id or code_build_id(),
    )


def deployment_config(version: WorkerDeploymentVersion) -> WorkerDeploymentConfig:
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


def set_current_command(version: WorkerDeploymentVersion) -> str:
    """The operator's command that makes `version` current (logged for a build that waits)."""
    return (
        "temporal worker deployment set-current-version "
        f"--deployment-name {version.deployment_name} --build-id {version.build_id}"
    )


async def describe(client: Client, deployment_name: str) -> DescribeWorkerDeploymentResponse | None:
    """The deployment as the server has it, or None before its first worker polled."""
    try:
        return await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment_name)
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def current_build(info: WorkerDeploymentInfo) -> str | None:
    """The current version's build id; None while unversioned workers are current."""
    return info.routing_config.current_deployment_version.build_id or None


async def join(client: Client, version: WorkerDeploymentVersion, rollout: str) -> str:
    """Once this worker polls: make its build current if WORKER_ROLLOUT says so. Returns how the
    build stands, for the start-up log line. Never raises for the server's refusals: a worker
    that could not promote itself still serves its build."""
    deadline = time.monotonic() + REGISTER_TIMEOUT
    while True:
        try:
            standing = await _try_join(client, version, rollout)
        except RPCError as err:  # a concurrent change (another replica, an operator): look again
            standing = None
            if time.monotonic() > deadline:
                log.warning("could not make build %s current: %s", version.build_id, err.message)
                return "not current (could not make it current; see the warning above)"
        if standing is not None:
            return standing
        if time.monotonic() > deadline:
            return "not yet listed by the server (it registers with the worker's first poll)"
        await asyncio.sleep(0.1)


async def _try_join(client: Client, version: WorkerDeploymentVersion, rollout: str) -> str | None:
    found = await describe(client, version.deployment_name)
    info = found.worker_deployment_info if found else None
    summary = next(
        (
            s
            for s in (info.version_summaries if info else ())
            if s.deployment_version.build_id == version.build_id
        ),
        None,
    )
    if found is None or info is None or summary is None:
        return None  # not registered yet
    current = current_build(info)
    if current == version.build_id:
        return "current"
    never_active = summary.status == WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE
    if rollout == "always" or (rollout == "new" and never_active):
        await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=version.deployment_name,
                build_id=version.build_id,
                conflict_token=found.conflict_token,
                identity=client.identity,
            )
        )
        return f"made current (it was {current or 'unversioned workers'})"
    return f"not current: build {current or '(unversioned)'} is; to move: {set_current_command(version)}"
