"""Every recorded history replays against today's workflow code.

A change that running executions would replay differently fails here until it is put behind
`workflow.patched`. New histories: `python -m tests.replay.record_histories`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from stack.temporal import data_converter
from tests.support.temporal import TEST_KEY
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_for_every_workflow() -> None:
    recorded = {path.name.split("-")[0] for path in HISTORIES}
    hosted = {str(workflow._Definition.must_from_class(cls).name) for cls in WORKFLOWS}
    assert hosted <= recorded, f"no recorded history for {sorted(hosted - recorded)}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=data_converter([TEST_KEY]))
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
