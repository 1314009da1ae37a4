"""Moving a chain's current round, alone or with every round after it, on the time-skipping
server (the `shift` update): what posts when, and who and what is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.challenges_doubles import GUILD, HOST, QUEUE, Posts, chain, round_, start
from tests.support.jobs_doubles import assert_near
from worker import build_worker
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import ShiftChainRequest
from workflows.jobs_models import Reminder

REMINDERS = [Reminder(offset=timedelta(minutes=30), message="30 minutes")]


def by(delta: timedelta, *, whole: bool = False, as_host: bool = True, **fields: object) -> ShiftChainRequest:
    return ShiftChainRequest.model_validate(
        {"by": HOST, "guild_id": GUILD, "as_host": as_host, "delta": delta, "whole": whole, **fields}
    )


@pytest.fixture
async def posts(time_env: WorkflowEnvironment) -> Posts:
    return Posts(time_env)


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, posts: Posts) -> AsyncIterator[Worker]:
    async with build_worker(
        time_env.client, QUEUE, posts.activities(), workflows=[ChallengeChainWorkflow]
    ) as running:
        yield running


async def test_the_current_round_moves_alone_and_the_next_keeps_its_time(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    rounds = [
        round_("Round 1", timedelta(hours=2), reminders=REMINDERS),
        round_("Round 2", timedelta(hours=1)),
    ]
    handle = await start(time_env, chain(rounds))
    await time_env.sleep(timedelta(minutes=20))
    status = await handle.execute_update(ChallengeChainWorkflow.shift, by(timedelta(minutes=30)))
    [first, second] = status.rounds
    assert first.due is not None and second.due is not None
    assert_near(first.due, now + timedelta(hours=2, minutes=30))
    assert_near(second.due, now + timedelta(hours=3))
    await handle.result()

    # The reminder moved with its round; Round 2 still came at 3 h.
    assert [text for _, text, _ in posts.log] == [
        "Quiz: Round 1 in 30 minutes",
        "Round 1 starts now!",
        "Round 2 starts now!",
    ]
    assert_near(posts.log[0][2], now + timedelta(hours=2))
    assert_near(posts.log[1][2], now + timedelta(hours=2, minutes=30))
    assert_near(posts.log[2][2], now + timedelta(hours=3))


async def test_the_whole_chain_moves_later_or_earlier(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    rounds = [
        round_("Round 1", timedelta(hours=2)),
        round_("Round 2", timedelta(hours=1)),
        round_("Finale", at=now + timedelta(hours=5)),
    ]
    handle = await start(time_env, chain(rounds))
    await time_env.sleep(timedelta(minutes=20))
    await handle.execute_update(ChallengeChainWorkflow.shift, by(timedelta(hours=1), whole=True))
    status = await handle.execute_update(
        ChallengeChainWorkflow.shift, by(timedelta(minutes=-15), whole=True, round=0)
    )
    assert [v.name for v in status.rounds] == ["Round 1", "Round 2", "Finale"]
    await handle.result()
    times = [moment for _, _, moment in posts.log]
    for moment, expected in zip(times, (2.75, 3.75, 5.75), strict=True):
        assert_near(moment, now + timedelta(hours=expected))


async def test_only_hosts_may_and_not_into_the_past(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(
        time_env, chain([round_("Round 1", timedelta(hours=1)), round_("Round 2", timedelta(hours=1))])
    )
    refusals = [
        (by(timedelta(minutes=10), as_host=False), "only a host can move"),  # even the chain's creator
        (by(timedelta(hours=-2)), "would be in the past"),
        (by(timedelta(0)), "by nothing"),
        (by(timedelta(minutes=10), round=1), "has not come yet"),
    ]
    for request, says in refusals:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ChallengeChainWorkflow.shift, request)
        assert says in str(refused.value.cause)
    status = await handle.query(ChallengeChainWorkflow.status)
    start_time = await time_env.get_current_time()
    assert status.rounds[0].due is not None
    assert_near(status.rounds[0].due, start_time + timedelta(hours=1))
