"""Metrics and logs of the worker and the bot.

Metrics: the SDK's runtime serves Prometheus (`/metrics`) with its own metrics (temporal_*) and
the project's, which go through the SDK's meter so they carry the same labels (namespace, task
queue, activity or workflow type). Names follow Prometheus' conventions, by the SDK's options:
counters end in `_total`, durations are in seconds and end in `_seconds`. The worker's:

- `discord_posts_total`: messages Discord accepted (channel messages and webhook executions);
- `discord_errors_total{kind=...}`: Discord failures as `discord_errors()` classified them;
- `jobs_failed_total`: scheduled jobs that ended failed;
- `jobs_fire_lateness_seconds{action=...}`: how long after its deadline a job's action started
  (its first try: retries through an outage are Discord's lateness, counted as its errors);
- `store_near_limit_total{store=...}`: a PersistentStore went past 80% of its keys or bytes (counted by
  the store workflow, `workflows/store.py`).

The bot's are in bot/metrics.py, served by its Temporal client's runtime.

Logs: text, or with LOG_FORMAT=json one JSON object a line, with the workflow id, run id and
activity name the SDK's loggers attach.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

POSTS = "discord_posts"
DISCORD_ERRORS = "discord_errors"
JOBS_FAILED = "jobs_failed"
FIRE_LATENESS = "jobs_fire_lateness"
JOB_WORKFLOW = "ScheduledJob"  # workflows.jobs_models.JOBS_WORKFLOW (stack/ may not import workflows/)
OUTCOME = SearchAttributeKey.for_keyword("Outcome")  # workflows.search_attributes.OUTCOME

# Bucket bounds (seconds) of our histograms, by instrument name. Fires: bench/ measured a p99 of
# 0.3-1.4 s at 1,000 jobs; tens of seconds mean a backlog, minutes an outage.
HISTOGRAM_BUCKETS: dict[str, Sequence[float]] = {
    FIRE_LATENESS: (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
}


def metrics_runtime(
    host: str, port: int | None, buckets: Mapping[str, Sequence[float]] | None = None
) -> Runtime | None:
    """A runtime serving Prometheus on host:port, or None (the SDK's default runtime) when off.
    `buckets`: histogram bounds (seconds) by instrument name, beside HISTOGRAM_BUCKETS."""
    if port is None:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{host}:{port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={**HISTOGRAM_BUCKETS, **(buckets or {})},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def count_in_activity(name: str, description: str, **attributes: str) -> None:
    """Add 1 to counter `name` on the current activity's meter (a no-op outside activities and
    when metrics are off)."""
    if activity.in_activity():
        counter = activity.metric_meter().create_counter(name, description)
        counter.add(1, attributes or None)


class JobOutcomes(Interceptor):
    """Counts scheduled jobs that end failed, on the workflow's meter (silent during replay), and
    times how late each job's action starts.

    `local_actions`: the actions whose first try is a local activity; a regular activity of one
    is the fallback after that try, not the fire."""

    def __init__(self, local_actions: Collection[str] = ()) -> None:
        self.local_actions = frozenset(local_actions)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        del input
        return _CountFailedJobs

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimeFires(next, self.local_actions)


class _TimeFires(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, local_actions: frozenset[str]) -> None:
        super().__init__(next)
        self._local_actions = local_actions

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        # A job's action takes its ActionInput (an action name and the deadline); reminders and
        # notices carry no action.
        arg = input.args[0] if input.args else None
        action, deadline = getattr(arg, "action", None), getattr(arg, "deadline", None)
        info = activity.info()
        first_try = info.attempt == 1 and (info.is_local or action not in self._local_actions)
        if first_try and isinstance(action, str) and isinstance(deadline, datetime):
            late = max(datetime.now(UTC) - deadline, timedelta(0))
            histogram = activity.metric_meter().create_histogram_timedelta(
                FIRE_LATENESS, "how long after its deadline a job's action started"
            )
            histogram.record(late, {"action": action})
        return await super().execute_activity(input)


class _CountFailedJobs(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await super().execute_workflow(input)
        # The Outcome search attribute the job set as it closed (a run from before it: its result).
        outcome = workflow.info().typed_search_attributes.get(OUTCOME, getattr(result, "outcome", None))
        if workflow.info().workflow_type == JOB_WORKFLOW and outcome == "failed":
            workflow.metric_meter().create_counter(JOBS_FAILED, "scheduled jobs that ended failed").add(1)
        return result


# LogRecord attributes every record has; anything else came in through `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the SDK's workflow/activity context
    (flattened: workflow_id, run_id, activity, ...) and any other `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in ("temporal_workflow", "temporal_activity") and isinstance(value, dict):
                line.update(_context(value))
            else:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _context(details: dict[str, Any]) -> dict[str, Any]:
    """The SDK's names, made the same for workflow and activity records."""
    out = dict(details)
    if "workflow_run_id" in out:
        out["run_id"] = out.pop("workflow_run_id")
    if "activity_type" in out:
        out["activity"] = out.pop("activity_type")
    return out


def setup_logging(log_format: str, level: int = logging.INFO) -> None:
    """Root logging to stderr, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        # The context is in its own fields; not also appended to every message.
        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
