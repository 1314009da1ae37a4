"""The health check facade: start (or attach to the one running), pause, resume, run now, stop, status.

A guild's check is `health-<guild>`, the deployment's `health-deployment`: starting one twice
attaches to the one running (USE_EXISTING), so a second `/health start` changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, refuses
from clients.calls import Calls, Refusals
from clients.jobs import WORKFLOW_TASK_TIMEOUT
from clients.names import NO_NAMES, Names
from workflows import search_attributes as sa
from workflows.common import UserError, first_error
from workflows.health import HealthCheckWorkflow
from workflows.health_models import (
    DEFAULT_INTERVAL,
    HealthInput,
    HealthRequest,
    HealthSpec,
    HealthStatus,
    HealthStop,
    health_id_for,
)


class HealthError(UserError):
    """A refusal; the message is fit to show the user."""


class HealthNotRunning(HealthError):
    pass


REFUSALS = Refusals(
    refused=HealthError,
    over=lambda: HealthNotRunning("no health check runs here; start one with /health start"),
    too_large=HealthError,
)


class HealthChecks:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue
        self._calls = Calls(client, REFUSALS)

    @refuses(HealthError)
    async def start(
        self,
        *,
        guild_id: DiscordId | None,
        admin_channel_id: DiscordId | None,
        interval: timedelta = DEFAULT_INTERVAL,
        started_by: DiscordId | None = None,
        checks_per_run: int | None = None,
        alert_role_id: DiscordId | None = None,
        names: Names = NO_NAMES,
    ) -> str:
        """Start the check, or attach to the one already running under the same id. `names`: the
        channel's and starter's names, for the Web UI only."""
        extra = {} if checks_per_run is None else {"checks_per_run": checks_per_run}
        try:
            spec = HealthSpec(
                guild_id=guild_id,
                admin_channel_id=admin_channel_id,
                task_queue=self._task_queue,
                interval=interval,
                started_by=started_by,
                alert_role_id=alert_role_id,
                **extra,
            )
        except ValidationError as err:
            raise HealthError(first_error(err)) from None
        attributes = [] if guild_id is None else [SearchAttributePair(sa.GUILD_ID, str(guild_id))]
        if admin_channel_id is not None:
            attributes.append(SearchAttributePair(sa.CHANNEL_ID, str(admin_channel_id)))
        if admin_channel_id is not None:
            attributes.append(names.title("Health check"))
        workflow_id = health_id_for(guild_id)
        where = "the deployment" if guild_id is None else f"guild {guild_id}"
        await self._client.start_workflow(
            HealthCheckWorkflow.run,
            HealthInput(spec=spec),
            id=workflow_id,
            task_queue=self._task_queue,
            search_attributes=TypedSearchAttributes(attributes),
            static_summary=f"health check for {where}, every {interval}",
            static_details=f"posts to {names.where(admin_channel_id)} on a change and once a day"
            if admin_channel_id is not None
            else "posts nowhere: an operator reads it here",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_timeout=WORKFLOW_TASK_TIMEOUT,
        )
        return workflow_id

    @refuses(HealthError)
    async def is_running(self, guild_id: DiscordId | None) -> bool:
        """From describe, which the server answers with no worker."""
        try:
            described = await self._client.get_workflow_handle(health_id_for(guild_id)).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return described.status is not None and described.status.name == "RUNNING"

    @refuses(HealthError)
    async def status(self, guild_id: DiscordId | None) -> HealthStatus:
        handle = self._client.get_workflow_handle_for(HealthCheckWorkflow.run, health_id_for(guild_id))
        return await self._calls.query(handle, HealthCheckWorkflow.status)

    @refuses(HealthError)
    async def pause(self, guild_id: DiscordId | None, *, by: DiscordId) -> HealthStatus:
        return await self._update(
            guild_id, HealthCheckWorkflow.pause, HealthRequest(by=by, guild_id=guild_id)
        )

    @refuses(HealthError)
    async def resume(self, guild_id: DiscordId | None, *, by: DiscordId) -> HealthStatus:
        return await self._update(
            guild_id, HealthCheckWorkflow.resume, HealthRequest(by=by, guild_id=guild_id)
        )

    @refuses(HealthError)
    async def run_now(self, guild_id: DiscordId | None, *, by: DiscordId) -> HealthStatus:
        return await self._update(
            guild_id, HealthCheckWorkflow.run_now, HealthRequest(by=by, guild_id=guild_id)
        )

    @refuses(HealthError)
    async def stop(self, guild_id: DiscordId | None, *, by: DiscordId | None) -> None:
        """End the check. A signal: the server takes it with no worker, the check ends when one runs."""
        handle = self._client.get_workflow_handle_for(HealthCheckWorkflow.run, health_id_for(guild_id))
        await self._calls.signal(handle, HealthCheckWorkflow.stop, HealthStop(by=by))

    async def _update(self, guild_id: int | None, update: Any, request: HealthRequest) -> HealthStatus:
        handle = self._client.get_workflow_handle_for(HealthCheckWorkflow.run, health_id_for(guild_id))
        result: HealthStatus = await self._calls.update(handle, update, request)
        return result
