"""Retry a failed or missed job: a new run of the same thing, now, under the same id.

It runs the same action with the same payload, carrying the retried run's id (`retry_of`), on
which the actions key what they applied (a Safari round's resolver, a custom action's currency
markers): what the first run did is found and not done again; only what was not done is.
Only the job's latest run may be retried, so two hosts clicking Retry start one run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, refuses
from clients.jobs import Jobs, SchedulingError
from workflows import search_attributes as sa
from workflows.jobs_models import IfLate, JobSpec, job_id_for, run_tag

RETRYABLE = ("failed", "missed")


class RetryRefused(SchedulingError):
    """Why this job cannot be retried, for the host."""


@refuses(SchedulingError)
async def retry_job(
    client: Client, jobs: Jobs, guild_id: DiscordId, suffix: str, run: str, *, by: DiscordId
) -> str:
    """Start the retry of the job's run tagged `run` (its latest); returns the job id."""
    job_id = job_id_for(guild_id, suffix)
    handle = client.get_workflow_handle(job_id)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise RetryRefused("that job is no longer kept by the server") from None
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        raise RetryRefused("that job is running again already")
    if run_tag(described.run_id) != run:
        raise RetryRefused("that job has run again since; see the history for how it went")
    outcome = described.typed_search_attributes.get(sa.OUTCOME)
    if outcome not in RETRYABLE:
        raise RetryRefused("only a failed or missed job can be retried")
    spec = await _spec_of(client, job_id, described.run_id)
    await jobs.schedule(
        spec.action,
        spec.payload,
        guild_id=spec.guild_id,
        channel_id=spec.channel_id,
        scheduled_by=spec.scheduled_by,
        delay=timedelta(0),
        description=spec.description,
        key=suffix,
        retry_of=spec.retry_of or described.run_id,
        # A host asked for it now: it runs when a worker can, however late (saying so), never missed.
        if_late=IfLate(skip_after=None),
    )
    del by  # who retried is the host; the job stays the scheduler's
    return job_id


async def _spec_of(client: Client, job_id: str, run_id: str) -> JobSpec:
    """The run's JobSpec, from its first event (the start), not from a replay."""
    handle = client.get_workflow_handle(job_id, run_id=run_id)
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [spec] = await client.data_converter.decode(payloads, [JobSpec])
        assert isinstance(spec, JobSpec)
        return spec
    raise RetryRefused("that job's start is no longer kept by the server")
