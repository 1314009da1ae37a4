"""The chain fault campaign, small enough for CI: kill -9 the worker twice while chains post
their rounds (continuing as new every two rounds), with 429 and 5xx bursts from Discord; every
round posted once. A failing run prints its seed: `FAULT_SEED=<seed> pytest tests/faults`."""

from __future__ import annotations

from pathlib import Path

from tests.faults.chains import ChainPlan, run_chains


async def test_every_round_of_every_chain_posted_once_through_kills_and_discord_faults(
    tmp_path: Path,
) -> None:
    outcome = await run_chains(ChainPlan(chains=8, rounds=4, worker_kills=2, fault_bursts=3), tmp_path)
    summary = outcome.summary()  # names the seed

    assert outcome.worker_kills == 2, summary
    assert outcome.faults_fired > 0, summary
    assert outcome.missing == [], summary
    assert outcome.doubled == [], summary
    assert outcome.unexpected == [], summary
    assert outcome.not_done == [], summary
