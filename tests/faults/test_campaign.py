"""The fault campaign, small enough for CI: kill -9 the worker twice and the dev server once
while jobs and scheduled Custom Actions fire, with 429 and 5xx bursts from Discord; nothing lost,
nothing posted twice, every currency change applied once, no webhook of ours left but the one
kept per channel.
A failing run prints its seed: `FAULT_SEED=<seed> pytest tests/faults` repeats its choices."""

from __future__ import annotations

from pathlib import Path

from tests.faults.campaign import Plan, run


async def test_nothing_lost_and_nothing_twice_through_kills_and_discord_faults(tmp_path: Path) -> None:
    plan = Plan(jobs=40, actions=12, window=20, worker_kills=2, server_kills=1, fault_bursts=3)
    outcome = await run(plan, tmp_path)
    summary = outcome.summary()  # names the seed

    assert outcome.worker_kills == 2 and outcome.server_kills == 1, summary
    assert outcome.faults_fired > 0, summary
    assert outcome.missing == [], summary
    assert outcome.doubled == [], summary
    assert outcome.unexpected == [], summary
    assert outcome.not_completed == [], summary
    assert outcome.posted_unrecorded == [], summary  # a reminder's record says what Discord shows
    assert outcome.action_posts == 12, summary
    assert outcome.balances_wrong == [], summary
    assert outcome.webhooks_left == [], summary
