"""The jobs' catalogue: the jobs feature declares its own actions, every other feature registers
its own at import, and a worker process holds all of them before it hosts anything.

Action names are a contract (scheduled jobs carry them in their input and search attributes),
so the list and each action's settings are checked against what they were when the catalogue
still named every feature itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

import worker
from workflows.custom_actions_models import ExecuteCustomActionPayload
from workflows.jobs_actions import ACTIONS, ActionSpec, PostMessagePayload, action_spec, register
from workflows.safari_engine import RoundResultsPayload

ROOT = Path(__file__).resolve().parents[2]
JOBS_OWN = ["post_message", "send_reminder"]
EVERY_ACTION = ["execute_custom_action", "post_message", "process_round_results", "send_reminder"]

# What each action was in the closed catalogue, field by field; since then a plain post and a
# custom action are missed rather than run more than an hour late (the late-run policy).
BEFORE = {
    "send_reminder": ActionSpec("send_reminder", reminder=True),
    "post_message": ActionSpec("post_message", payload=PostMessagePayload, late=timedelta(hours=1)),
    "process_round_results": ActionSpec(
        "process_round_results",
        local=False,
        start_to_close=timedelta(seconds=60),
        heartbeat=timedelta(seconds=15),
        payload=RoundResultsPayload,
    ),
    "execute_custom_action": ActionSpec(
        "execute_custom_action",
        local=False,
        start_to_close=timedelta(seconds=60),
        heartbeat=timedelta(seconds=15),
        schedule_to_close=timedelta(days=2),
        payload=ExecuteCustomActionPayload,
        late=timedelta(hours=1),
        late_new=True,
    ),
}

# Run in a fresh interpreter: what the catalogue holds after importing only the jobs' module,
# then after importing the worker (as `python worker.py` and every replay do).
PROBE = """
import json
import workflows.jobs_actions as catalogue
alone = sorted(catalogue.ACTIONS)
import worker
print(json.dumps({"alone": alone, "worker": sorted(catalogue.ACTIONS)}))
"""


def test_a_worker_process_holds_every_action_and_the_jobs_module_only_its_own() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"alone": JOBS_OWN, "worker": EVERY_ACTION}


def test_the_catalogue_lists_the_same_actions_with_the_same_settings_as_before() -> None:
    assert worker.ACTION_FEATURES  # imported: their actions are registered
    assert sorted(ACTIONS) == EVERY_ACTION
    # Every setting as it was; the label (what people read) is new, and every action has one.
    assert {name: replace(action_spec(name), label="") for name in EVERY_ACTION} == BEFORE
    assert all(action_spec(name).label for name in EVERY_ACTION)


def test_registering_an_action_again_is_harmless_but_a_taken_name_is_refused() -> None:
    spec = action_spec("process_round_results")
    assert register(spec) is spec
    with pytest.raises(ValueError, match="registered already"):
        register(replace(spec, local=True))
    assert replace(action_spec("process_round_results"), label="") == BEFORE["process_round_results"]
