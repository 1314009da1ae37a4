"""Metrics and logs of the worker and the bot.

Metrics: the SDK's runtime serves Prometheus (`/metrics`) with its own metrics (temporal_*) and
the project's counters, which go through the SDK's meter so they carry the same labels
(namespace, task queue, activity or workflow type):

- `discord_posts`: messages Discord accepted (channel messages and webhook executions);
- `discord_errors{kind=...}`: Discord failures as `discord_errors()` classified them;
- `jobs_failed`: scheduled jobs that ended failed;
- `store_near_limit{store=...}`: a PersistentStore went past 80% of its keys or bytes (counted by
  the store workflow, `workflows/store.py`).

Logs: text, or with LOG_FORMAT=json one JSON object a line, with the workflow id, run id and
activity name the SDK's loggers attach.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

POSTS = "discord_posts"
DISCORD_ERRORS = "discord_errors"
JOBS_FAILED = "jobs_failed"
JOB_WORKFLOW = "ScheduledJob"  # workflows.jobs_models.JOBS_WORKFLOW (stack/ may not import workflows/)
OUTCOME = SearchAttributeKey.for_keyword("Outcome")  # workflows.search_attributes.OUTCOME


def metrics_runtime(host: str, port: int | None) -> Runtime | None:
    """A runtime serving Prometheus on host:port, or None (the SDK's default runtime) when off."""
    if port is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}")))


def count_in_activity(name: str, description: str, **attributes: str) -> None:
    """Add 1 to counter `name` on the current activity's meter (a no-op outside activities and
    when metrics are off)."""
    if activity.in_activity():
        counter = activity.metric_meter().create_counter(name, description)
        counter.add(1, attributes or None)


class JobOutcomes(Interceptor):
    """Counts scheduled jobs that end failed, on the workflow's meter (silent during replay)."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        del input
        return _CountFailedJobs


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
