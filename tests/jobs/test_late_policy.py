"""The late-run policy: a job due while no worker ran (start_delay stands for the outage) runs
late and says so in its post, or, past its action's window, is recorded missed and the host told."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.jobs_doubles import Doubles, job, start
from workflows.jobs_actions import POST_MESSAGE, action_spec
from workflows.safari_engine import PROCESS_ROUND_RESULTS


def _window() -> timedelta:
    late = action_spec(POST_MESSAGE).late
    assert late is not None
    return late


WINDOW = _window()


async def late_by(env: WorkflowEnvironment, lateness: timedelta, action: str = POST_MESSAGE) -> object:
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[]).model_copy(update={"action": action})
    handle = await start(env, spec, start_delay=timedelta(minutes=10) + lateness)
    return await handle.result()


async def test_within_the_window_it_runs_late_and_says_so(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    result = await late_by(time_env, WINDOW - timedelta(seconds=5))
    assert result.outcome == "done"  # type: ignore[attr-defined]
    [(action, _)] = doubles.actions
    assert action.late_note is not None
    assert action.late_note.startswith("due <t:") and ", posted <t:" in action.late_note
    assert action.late_note.endswith(": the bot was offline")
    assert doubles.notices == []


async def test_past_the_window_it_is_missed_and_the_host_told(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    result = await late_by(time_env, WINDOW + timedelta(seconds=5))
    assert result.outcome == "missed"  # type: ignore[attr-defined]
    assert "so it was not run" in (result.reason or "")  # type: ignore[attr-defined]
    assert doubles.actions == []
    [notice] = doubles.notices
    assert "at most 1h late" in notice.reason


async def test_on_time_there_is_no_late_line(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    result = await late_by(time_env, timedelta(0))
    assert result.outcome == "done"  # type: ignore[attr-defined]
    [(action, _)] = doubles.actions
    assert action.late_note is None


async def test_safari_results_run_however_late(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    result = await late_by(time_env, timedelta(days=2), action=PROCESS_ROUND_RESULTS)
    assert result.outcome == "done"  # type: ignore[attr-defined]
    [(action, _)] = doubles.actions
    assert action.late_note is not None and "the bot was offline" in action.late_note
