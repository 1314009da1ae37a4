"""Why a fire due while a worker was down was late, from its job's history.

Each timer due in the outage is followed to the workflow task that handled it (the post is a
local activity inside that task), and sorted by what that task waited for:

- `sticky_timeout`: the task went to a sticky queue nobody polled any more (the killed worker's)
  and moved to the shared queue after `sticky_queue_schedule_to_start_timeout`;
- `task_timeout`: the task had been started by the killed worker and came back after the
  workflow task timeout (WORKFLOW_TASK_TIMEOUT);
- `direct`: neither: a live worker got it at once (or once the backlog let it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent

from bench.measure import percentile

CAUSES = ("direct", "sticky_timeout", "task_timeout")


@dataclass
class OutageFires:
    late: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CAUSES})
    waited: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CAUSES[1:]})
    # The task that handled the fire: queued (its last scheduling .. its start) and running.
    queued: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CAUSES})
    running: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CAUSES})
    handled_by: dict[str, int] = field(default_factory=dict)  # worker identity -> fires

    def add(self, events: Sequence[HistoryEvent], killed: float, back: float) -> None:
        timers: dict[int, float] = {}  # TimerStarted event id -> due
        for i, e in enumerate(events):
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                duration = e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
                timers[e.event_id] = _at(e) + duration.total_seconds()
            elif e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                due = timers.get(e.timer_fired_event_attributes.started_event_id)
                if due is not None and killed <= due <= back:
                    self._follow(events[i + 1 :], due)

    def _follow(self, rest: Sequence[HistoryEvent], due: float) -> None:
        cause, waited = "direct", 0.0
        scheduled = started = 0.0
        identity = ""
        for e in rest:
            kind = e.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                scheduled = _at(e)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = _at(e)
                identity = e.workflow_task_started_event_attributes.identity
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timeout = e.workflow_task_timed_out_event_attributes.timeout_type
                if timeout == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START:
                    cause, waited = "sticky_timeout", _at(e) - scheduled
                else:
                    cause, waited = "task_timeout", _at(e) - started
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                self.late[cause].append(_at(e) - due)
                self.queued[cause].append(started - scheduled)
                self.running[cause].append(_at(e) - started)
                if cause != "direct":
                    self.waited[cause].append(waited)
                self.handled_by[identity] = self.handled_by.get(identity, 0) + 1
                return

    def summary(self, names: dict[str, str]) -> dict[str, object]:
        """`names` maps a worker identity (pid@host) to what the report calls it."""

        def p(values: list[float]) -> list[float]:
            return [round(percentile(values, q), 3) for q in (50, 99)] + [round(max(values, default=0), 3)]

        return {
            "fires": {c: len(v) for c, v in self.late.items()},
            "task_done_late_p50_p99_max_s": {c: p(v) for c, v in self.late.items() if v},
            "timeout_waited_p50_p99_max_s": {c: p(v) for c, v in self.waited.items() if v},
            "task_queued_p50_p99_max_s": {c: p(v) for c, v in self.queued.items() if v},
            "task_running_p50_p99_max_s": {c: p(v) for c, v in self.running.items() if v},
            "handled_by": {names.get(k, k): v for k, v in self.handled_by.items()},
        }


def _at(e: HistoryEvent) -> float:
    return e.event_time.ToDatetime().timestamp()
