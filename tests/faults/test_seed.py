"""The fault campaign's seed decides every random choice, and FAULT_SEED sets it: a failing run can
be repeated (timing aside) from the seed it printed."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.faults.campaign import CHANNELS, SEED_ENV, Plan, draw


def test_fault_seed_sets_the_seed_and_the_seed_decides_every_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SEED_ENV, "4242")
    plan = Plan(jobs=30, window=20, worker_kills=2, server_kills=1, fault_bursts=3)

    assert plan.seed == 4242
    assert draw(plan) == draw(
        Plan(jobs=30, window=20, worker_kills=2, server_kills=1, fault_bursts=3, seed=4242)
    )
    assert draw(plan) != draw(
        Plan(jobs=30, window=20, worker_kills=2, server_kills=1, fault_bursts=3, seed=4243)
    )


def test_the_draws_follow_the_plan() -> None:
    plan = Plan(jobs=30, window=20, worker_kills=2, server_kills=1, fault_bursts=3, seed=7)
    draws = draw(plan)

    assert len(draws.deadlines) == len(draws.channels) == 30
    assert all(0 <= d <= 20 for d in draws.deadlines) and set(draws.channels) <= set(CHANNELS)
    assert Counter(c.what for c in draws.chaos) == {"worker": 2, "server": 1, "discord": 3}
    assert [c.at for c in draws.chaos] == sorted(c.at for c in draws.chaos)
    assert all(c.bursts[0] >= 2 and c.bursts[2] >= 1 for c in draws.chaos if c.what == "discord")


def test_a_fault_seed_that_is_not_a_number_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SEED_ENV, "tuesday")

    with pytest.raises(ValueError, match="FAULT_SEED must be an integer, not 'tuesday'"):
        Plan()
