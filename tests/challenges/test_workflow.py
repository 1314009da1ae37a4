"""The challenge chain on the time-skipping server, with its actions replaced by doubles
registered under the same names."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.challenges import ChallengeError, Challenges
from tests.support.challenges_doubles import CHANNEL, GUILD, HOST, QUEUE, Posts, chain, round_, start
from tests.support.histories import run_histories
from tests.support.jobs_doubles import assert_near
from tests.support.temporal import eventually
from worker import build_worker
from workflows import search_attributes as sa
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import (
    AddRoundRequest,
    CancelChainRequest,
    ChainRequest,
    ChallengeInput,
    OperatorCancel,
    RoundAction,
    RoundSpec,
    ShiftChainRequest,
    SkipRequest,
    challenge_id_for,
)
from workflows.jobs_actions import POST_MESSAGE
from workflows.jobs_models import ActionInput, Reminder
from workflows.safari_engine import PROCESS_ROUND_RESULTS

REMINDERS = [
    Reminder(offset=timedelta(minutes=30), message="30 minutes"),
    Reminder(offset=timedelta(minutes=5), message="5 minutes"),
]
AS_HOST = SkipRequest(by=HOST, guild_id=GUILD)  # a skip naming no round, and a pause or resume


@pytest.fixture
async def posts(time_env: WorkflowEnvironment) -> Posts:
    return Posts(time_env)


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, posts: Posts) -> AsyncIterator[Worker]:
    async with build_worker(
        time_env.client, QUEUE, posts.activities(), workflows=[ChallengeChainWorkflow]
    ) as running:
        yield running


async def test_three_rounds_with_reminders_post_in_order_at_their_times(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    spec = chain(
        [
            round_("Round 1", timedelta(hours=1), reminders=REMINDERS),
            round_("Round 2", timedelta(hours=2), reminders=REMINDERS),
            round_("Finale", at=now + timedelta(hours=5), reminders=REMINDERS),
        ]
    )
    result = await (await start(time_env, spec)).result()

    r1, r2, r3 = now + timedelta(hours=1), now + timedelta(hours=3), now + timedelta(hours=5)
    expected = [
        ("reminder", "Quiz: Round 1 in 30 minutes", r1 - timedelta(minutes=30)),
        ("reminder", "Quiz: Round 1 in 5 minutes", r1 - timedelta(minutes=5)),
        ("action", "Round 1 starts now!", r1),
        ("reminder", "Quiz: Round 2 in 30 minutes", r2 - timedelta(minutes=30)),
        ("reminder", "Quiz: Round 2 in 5 minutes", r2 - timedelta(minutes=5)),
        ("action", "Round 2 starts now!", r2),
        ("reminder", "Quiz: Finale in 30 minutes", r3 - timedelta(minutes=30)),
        ("reminder", "Quiz: Finale in 5 minutes", r3 - timedelta(minutes=5)),
        ("action", "Finale starts now!", r3),
    ]
    assert [(kind, text) for kind, text, _ in posts.log] == [(kind, text) for kind, text, _ in expected]
    for (_, _, fired), (_, _, due) in zip(posts.log, expected, strict=True):
        assert_near(fired, due)
    assert result.outcome == "done"
    assert [(r.name, r.outcome) for r in result.rounds] == [
        ("Round 1", "done"),
        ("Round 2", "done"),
        ("Finale", "done"),
    ]
    assert [rem.outcome for rem in result.rounds[0].reminders] == ["sent", "sent"]


async def test_status_shows_the_whole_plan_and_timers_carry_the_round_name(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(
        time_env,
        chain(
            [round_("Warm-up", timedelta(hours=1)), round_("Main", timedelta(hours=2), reminders=REMINDERS)]
        ),
    )
    await time_env.sleep(timedelta(minutes=90))  # Warm-up done, Main's wait running
    status = await handle.query(ChallengeChainWorkflow.status)

    assert status.state == "waiting" and status.current == 1
    assert [(v.name, v.state) for v in status.rounds] == [("Warm-up", "done"), ("Main", "current")]
    assert status.rounds[0].at is not None
    assert_near(status.rounds[0].at, now + timedelta(hours=1))
    assert status.rounds[1].due is not None
    assert_near(status.rounds[1].due, now + timedelta(hours=3))
    history = await handle.fetch_history()
    timers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    summaries = [(await time_env.client.data_converter.decode([t.user_metadata.summary]))[0] for t in timers]
    assert summaries[:2] == ["Warm-up: start", "Main: 30 minutes reminder"]
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert "1. Warm-up: done at" in details and "2. Main: current," in details
    await handle.execute_update(ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD))


async def test_skip_runs_the_next_round_counted_from_the_skip(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(
        time_env,
        chain(
            [
                round_("Round 1", timedelta(hours=2), reminders=REMINDERS),
                round_("Round 2", timedelta(hours=1)),
            ]
        ),
    )
    await time_env.sleep(timedelta(minutes=20))
    status = await handle.execute_update(ChallengeChainWorkflow.skip, AS_HOST)
    assert [(v.name, v.state) for v in status.rounds] == [("Round 1", "skipped"), ("Round 2", "current")]
    result = await handle.result()

    # Round 1 never posted, not even its reminders; Round 2 came an hour after the skip.
    assert posts.actions() == ["Round 2 starts now!"]
    assert [kind for kind, _, _ in posts.log] == ["action"]
    assert_near(posts.log[0][2], now + timedelta(minutes=80))
    assert [(r.name, r.outcome) for r in result.rounds] == [("Round 1", "skipped"), ("Round 2", "done")]


async def test_pause_keeps_the_remaining_wait_and_resume_continues(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, chain([round_("Round 1", timedelta(hours=2), reminders=REMINDERS)]))
    await time_env.sleep(timedelta(minutes=30))  # 90 minutes left; the 30-minute reminder ahead
    paused = await handle.execute_update(ChallengeChainWorkflow.pause, AS_HOST)
    assert paused.state == "paused" and paused.remaining is not None
    assert abs(paused.remaining - timedelta(minutes=90)) < timedelta(seconds=5)

    await time_env.sleep(timedelta(hours=10))  # far past the original deadline: nothing fires
    assert posts.log == []
    still = await handle.query(ChallengeChainWorkflow.status)
    assert still.state == "paused" and still.remaining == paused.remaining
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(ChallengeChainWorkflow.pause, AS_HOST)
    assert "already paused" in str(again.value.cause)

    resumed_at = await time_env.get_current_time()
    await handle.execute_update(ChallengeChainWorkflow.resume, AS_HOST)
    await handle.result()

    deadline = resumed_at + paused.remaining
    assert [text for _, text, _ in posts.log] == [
        "Quiz: Round 1 in 30 minutes",
        "Quiz: Round 1 in 5 minutes",
        "Round 1 starts now!",
    ]
    assert_near(posts.log[0][2], deadline - timedelta(minutes=30))
    assert_near(posts.log[2][2], deadline)
    assert now + timedelta(hours=10) < posts.log[2][2]


async def test_a_round_skipped_while_paused_leaves_the_next_one_waiting_for_resume(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(
        time_env, chain([round_("Round 1", timedelta(hours=1)), round_("Round 2", timedelta(hours=1))])
    )
    await handle.execute_update(ChallengeChainWorkflow.pause, AS_HOST)
    skipped = await handle.execute_update(ChallengeChainWorkflow.skip, AS_HOST)
    assert skipped.state == "paused" and skipped.remaining == timedelta(hours=1)
    await time_env.sleep(timedelta(hours=5))
    assert posts.log == []

    resumed_at = await time_env.get_current_time()
    await handle.execute_update(ChallengeChainWorkflow.resume, AS_HOST)
    result = await handle.result()
    assert posts.actions() == ["Round 2 starts now!"]
    assert_near(posts.log[0][2], resumed_at + timedelta(hours=1))
    assert [r.outcome for r in result.rounds] == ["skipped", "done"]


async def test_cancel_stops_everything_after_it(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(
        time_env, chain([round_("Round 1", timedelta(hours=1)), round_("Round 2", timedelta(hours=1))])
    )
    await time_env.sleep(timedelta(minutes=70))
    status = await handle.execute_update(
        ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD, reason="rained off")
    )
    result = await handle.result()
    await time_env.sleep(timedelta(hours=3))

    assert status.state == "cancelled"
    assert result.outcome == "cancelled" and result.by == HOST and result.reason == "rained off"
    assert (await handle.describe()).typed_search_attributes[sa.OUTCOME] == "cancelled"
    assert posts.actions() == ["Round 1 starts now!"]


async def test_operators_cancel_with_a_signal(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(time_env, chain([round_("Round 1", timedelta(hours=1))]))
    await handle.signal(ChallengeChainWorkflow.operator_cancel, OperatorCancel(reason="spam"))
    result = await handle.result()
    await time_env.sleep(timedelta(hours=2))

    assert result.outcome == "cancelled" and result.by is None and result.reason == "spam"
    assert posts.log == []


async def test_changes_are_refused_across_guilds_and_for_other_players(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(time_env, chain([round_("Round 1", timedelta(hours=1))]))
    with pytest.raises(WorkflowUpdateFailedError) as other_guild:
        await handle.execute_update(
            ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=999, as_host=True)
        )
    assert "another server" in str(other_guild.value.cause)
    for update in (ChallengeChainWorkflow.skip, ChallengeChainWorkflow.pause):
        with pytest.raises(WorkflowUpdateFailedError) as player:
            await handle.execute_update(update, SkipRequest(by=444, guild_id=GUILD))
        assert "only a host or the user who created" in str(player.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as not_paused:
        await handle.execute_update(ChallengeChainWorkflow.resume, AS_HOST)
    assert "not paused" in str(not_paused.value.cause)
    # Another host of the guild may.
    await handle.execute_update(
        ChallengeChainWorkflow.pause, ChainRequest(by=444, guild_id=GUILD, as_host=True)
    )
    assert (await handle.query(ChallengeChainWorkflow.status)).state == "paused"
    await handle.execute_update(ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD))


async def test_a_player_claiming_to_be_a_host_is_refused_by_the_chain_and_a_real_host_is_not(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(
        time_env, chain([round_("Round 1", timedelta(hours=1)), round_("Round 2", timedelta(hours=1))])
    )
    posts.discord_guild.hosts = {(GUILD, 445)}  # what Discord says: 445 is a host, 444 is not
    player = ChainRequest(by=444, guild_id=GUILD, as_host=True)
    bonus = round_("Bonus", timedelta(minutes=10))
    for update, request in [
        (ChallengeChainWorkflow.skip, SkipRequest(**player.model_dump())),
        (ChallengeChainWorkflow.pause, player),
        (ChallengeChainWorkflow.shift, ShiftChainRequest(**player.model_dump(), delta=timedelta(minutes=30))),
        (ChallengeChainWorkflow.add_round, AddRoundRequest(**player.model_dump(), round=bonus)),
        (ChallengeChainWorkflow.cancel, CancelChainRequest(**player.model_dump())),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(update, request)  # type: ignore[call-overload]
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.message.startswith("Only a host of this server"), refused.value.cause
    status = await handle.query(ChallengeChainWorkflow.status)
    assert (status.state, status.current, len(status.rounds)) == ("waiting", 0, 2)
    assert posts.announcements == []

    # A host Discord confirms may pause and resume; the chain's creator is not asked about.
    host = ChainRequest(by=445, guild_id=GUILD, as_host=True)
    assert (await handle.execute_update(ChallengeChainWorkflow.pause, host)).state == "paused"
    await handle.execute_update(ChallengeChainWorkflow.resume, host)
    await handle.execute_update(
        ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD, as_host=True)
    )
    assert (await handle.result()).outcome == "cancelled"
    assert [q.user_id for q in posts.discord_guild.asked] == [444] * 5 + [445] * 2
    assert posts.actions() == []


async def test_a_round_added_at_the_end_runs_after_the_others(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    handle = await start(time_env, chain([round_("Round 1", timedelta(hours=1))]))
    added = await handle.execute_update(
        ChallengeChainWorkflow.add_round,
        AddRoundRequest(by=HOST, guild_id=GUILD, round=round_("Bonus", timedelta(minutes=30))),
    )
    assert [v.name for v in added.rounds] == ["Round 1", "Bonus"]
    assert added.rounds[1].due is not None
    assert_near(added.rounds[1].due, now + timedelta(minutes=90))
    await handle.result()
    assert posts.actions() == ["Round 1 starts now!", "Bonus starts now!"]
    assert_near(posts.log[1][2], now + timedelta(minutes=90))


@pytest.mark.parametrize("on_failure", ["continue", "stop"])
async def test_a_failed_round_is_recorded_and_the_chain_follows_its_setting(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker, on_failure: str
) -> None:
    def refuse_round_1(action: ActionInput) -> None:
        if "Round 1" in action.description:
            raise ApplicationError(
                "Discord refused (404, code 10003): Unknown Channel",
                type="DiscordRejected",
                non_retryable=True,
            )

    posts.action_behaviour = refuse_round_1
    spec = chain(
        [round_("Round 1", timedelta(minutes=10)), round_("Round 2", timedelta(minutes=10))],
        on_failure=on_failure,
    )
    result = await (await start(time_env, spec)).result()

    assert result.rounds[0].outcome == "failed"
    assert result.rounds[0].reason is not None and "Unknown Channel" in result.rounds[0].reason
    assert len(posts.notices) == 1 and "Unknown Channel" in posts.notices[0].reason
    if on_failure == "continue":
        assert result.outcome == "done"
        assert posts.actions() == ["Round 2 starts now!"]
    else:
        assert result.outcome == "failed" and len(result.rounds) == 1
        assert posts.actions() == []


async def test_a_long_chain_continues_as_new_and_keeps_its_state(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    rounds = [round_(f"Round {n}", timedelta(minutes=10), reminders=REMINDERS[1:]) for n in range(1, 201)]
    handle = await start(time_env, chain(rounds, key="marathon", rounds_per_run=25))
    await time_env.sleep(timedelta(minutes=10 * 60 + 1))  # 60 rounds done, in the third run
    midway = await handle.query(ChallengeChainWorkflow.status)
    assert midway.current == 60 and midway.generation == 2
    assert [v.state for v in midway.rounds[:60]] == ["done"] * 60
    assert len(midway.rounds) == 200

    result = await handle.result()

    assert result.outcome == "done"
    assert [r.name for r in result.rounds] == [f"Round {n}" for n in range(1, 201)]
    assert posts.actions() == [f"Round {n} starts now!" for n in range(1, 201)]
    assert len([kind for kind, _, _ in posts.log if kind == "reminder"]) == 200
    assert handle.result_run_id is not None
    sizes = await run_histories(time_env.client, handle.id, handle.result_run_id)
    assert len(sizes) == 8
    # 25 rounds per run: every run's history is about as long as the first, however long the chain.
    assert max(sizes) < 600, sizes


async def test_a_skip_sent_as_a_round_ends_skips_the_round_it_names_or_is_refused(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    chains = Challenges(time_env.client, QUEUE)
    rounds = [round_(f"Round {n}", timedelta(hours=1)) for n in (1, 2, 3)]
    handle = await start(time_env, chain(rounds))
    await time_env.sleep(timedelta(hours=1, seconds=1))  # Round 1 ran a moment ago

    with pytest.raises(
        ChallengeError, match=r"round 1 \(Round 1\) already ran at <t:\d+:f>; nothing was skipped"
    ):
        await chains.skip(GUILD, "quiz", by=HOST, round=0)
    # A skip that names no round, a moment after one ended, is not guessed to mean the next.
    with pytest.raises(
        ChallengeError, match=r"just before your request; nothing was skipped\. If you meant round 2"
    ):
        await chains.skip(GUILD, "quiz", by=HOST)
    with pytest.raises(ChallengeError, match=r"round 3 \(Round 3\) has not come yet: round 2 \(Round 2\) is"):
        await chains.skip(GUILD, "quiz", by=HOST, round=2)
    assert [v.state for v in (await chains.status(GUILD, "quiz")).rounds] == ["done", "current", "ahead"]

    skipped = await chains.skip(GUILD, "quiz", by=HOST, round=1)
    assert [v.state for v in skipped.rounds] == ["done", "skipped", "current"]
    await time_env.sleep(timedelta(minutes=1))
    # Well after the last round ended, a skip that names none takes the current one.
    await chains.skip(GUILD, "quiz", by=HOST)
    result = await handle.result()

    assert posts.actions() == ["Round 1 starts now!"]
    assert [r.outcome for r in result.rounds] == ["done", "skipped", "skipped"]


async def test_a_chain_cancelled_during_a_round_posts_nothing_more(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    chains = Challenges(time_env.client, QUEUE)
    two_posts = RoundSpec(
        name="Round 1",
        after=timedelta(minutes=10),
        actions=[
            RoundAction(action=POST_MESSAGE, payload={"content": "first"}),
            RoundAction(action=POST_MESSAGE, payload={"content": "second"}),
        ],
    )
    posts.gate = asyncio.Event()
    spec = chain([two_posts, round_("Round 2", timedelta(minutes=10))])
    handle = await start(time_env, spec, task_timeout=timedelta(seconds=2))
    await time_env.sleep(timedelta(minutes=10))
    await eventually(lambda: posts.started == 1)  # the first post is on its way to Discord

    with pytest.raises(ChallengeError, match=r"round 1 \(Round 1\) is running now; nothing was skipped"):
        await chains.skip(GUILD, "quiz", by=HOST, round=0)
    told = await chains.cancel(GUILD, "quiz", by=HOST)
    posts.gate.set()
    result = await handle.result()
    await time_env.sleep(timedelta(hours=1))

    # The reply said the first post might still appear, and nothing else: so it is.
    assert told.state == "cancelled" and told.in_flight == "Round 1 (action 1 of 2)"
    assert posts.actions() == ["first"]
    assert result.outcome == "cancelled"
    [record] = result.rounds
    assert record.outcome == "skipped" and record.reason is not None
    assert "cancelled during this round, after 1 of its actions" in record.reason


def bulky(name: str, kilobytes: int) -> RoundSpec:
    """A round whose action carries `kilobytes` of payload (a catalogue action that takes extra keys)."""
    payload = {"note": "x" * (kilobytes * 1024)}
    return RoundSpec(
        name=name,
        after=timedelta(hours=1),
        actions=[RoundAction(action=PROCESS_ROUND_RESULTS, payload=payload)],
    )


async def test_plans_and_rounds_are_bounded_in_size_with_the_limit_named(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    chains = Challenges(time_env.client, QUEUE)
    where: dict[str, Any] = {"title": "Big", "guild_id": GUILD, "channel_id": CHANNEL, "host_id": HOST}
    with pytest.raises(
        ChallengeError, match=r"round 1 \(Huge\): it takes 60 KB, and a round may take at most 48 KB"
    ):
        await chains.create(key="huge", rounds=[bulky("Huge", 60)], **where)
    # 2.4 MB: the server itself refuses a payload past 2 MB, with an error no user should see.
    with pytest.raises(
        ChallengeError, match=r"the rounds take 2\d{3} KB, and a chain may take at most 256 KB"
    ):
        await chains.create(key="plan", rounds=[bulky(f"R{n}", 40) for n in range(60)], **where)

    await chains.create(key="grow", rounds=[bulky("Start", 10)], **where)
    added = 0
    with pytest.raises(ChallengeError, match=r"would pass the 256 KB a chain may take"):
        for n in range(250):
            await chains.add_round(GUILD, "grow", bulky(f"Extra {n}", 10), by=HOST)
            added += 1
    assert 20 <= added < 26
    handle = time_env.client.get_workflow_handle_for(ChallengeChainWorkflow.run, "challenge-111-grow")
    # The workflow's own check, for a request that did not come through the client.
    with pytest.raises(WorkflowUpdateFailedError) as raw:
        request = AddRoundRequest(by=HOST, guild_id=GUILD, round=bulky("Raw", 60))
        await handle.execute_update(ChallengeChainWorkflow.add_round, request)
    assert "a round may take at most 48 KB" in str(raw.value.cause)

    # The chain still steers, and runs to its end through its continues-as-new.
    skipped = await chains.skip(GUILD, "grow", by=HOST, round=0)
    assert skipped.rounds[0].state == "skipped"
    await time_env.sleep(timedelta(days=2))  # a handle from the client does not skip time itself
    result = await handle.result()
    assert result.outcome == "done" and len(posts.actions()) == added


async def test_a_round_s_post_names_the_chain_and_the_round(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    rounds = [round_(f"Round {n}", timedelta(minutes=10)) for n in (1, 2)]
    await (await start(time_env, chain(rounds))).result()

    # Players see which chain and which round a post belongs to, above the host's own text.
    assert posts.headers == ["**Quiz** · Round 1 of 2", "**Quiz** · Round 2 of 2"]
    assert posts.actions() == ["Round 1 starts now!", "Round 2 starts now!"]


async def test_a_round_posts_its_reminders_and_its_post_in_its_own_channel(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    elsewhere = 999
    rounds = [
        round_("Round 1", timedelta(hours=1), reminders=REMINDERS[1:]),
        round_("Photos", timedelta(hours=1), reminders=REMINDERS[1:], channel_id=elsewhere),
    ]
    handle = await start(time_env, chain(rounds))
    status = await handle.query(ChallengeChainWorkflow.status)
    assert [v.channel_id for v in status.rounds] == [None, elsewhere]
    await handle.result()

    assert [text for _, text, _ in posts.log] == [
        "Quiz: Round 1 in 5 minutes",
        "Round 1 starts now!",
        "Quiz: Photos in 5 minutes",
        "Photos starts now!",
    ]
    assert posts.channels == [CHANNEL, CHANNEL, elsewhere, elsewhere]


async def test_players_are_told_of_a_pause_a_resume_a_skip_and_a_cancel_in_the_chain_s_channel(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    rounds = [round_("Round 1", timedelta(minutes=1)), round_("Round 2", timedelta(hours=1))]
    handle = await start(time_env, chain(rounds))
    await time_env.sleep(timedelta(seconds=30))
    await handle.execute_update(ChallengeChainWorkflow.pause, AS_HOST)
    await eventually(lambda: len(posts.announcements) == 1)
    await time_env.sleep(timedelta(minutes=5))
    resumed_at = await time_env.get_current_time()
    await handle.execute_update(ChallengeChainWorkflow.resume, AS_HOST)
    await eventually(lambda: len(posts.announcements) == 2)
    await handle.execute_update(ChallengeChainWorkflow.skip, AS_HOST)
    await eventually(lambda: len(posts.announcements) == 3)
    await handle.execute_update(ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD))
    await handle.result()

    paused, resumed, skipped, cancelled = (text for text, _, _ in posts.announcements)
    assert {channel for _, _, channel in posts.announcements} == {CHANNEL}
    # The time left is said as it is kept: 30 s, not rounded up to a minute.
    assert paused == (
        "⏸️ **Quiz** is paused. Round 1 (Round 1) will come less than a minute after the chain is resumed."
    )
    [stamp] = re.findall(r"<t:(\d+):R>", resumed)
    assert resumed.startswith("▶️ **Quiz** is resumed. Round 1 (Round 1) comes <t:")
    assert abs(int(stamp) - (resumed_at + timedelta(seconds=30)).timestamp()) < 3
    assert skipped.startswith("⏭️ **Quiz**: round 1 (Round 1) was skipped. Round 2 (Round 2) comes <t:")
    assert cancelled == "🛑 **Quiz** is cancelled: no more rounds will come."
    assert posts.log == []


async def test_a_paused_chain_s_plan_stands_still(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    rounds = [
        round_("Round 1", timedelta(minutes=1)),
        round_("Round 2", timedelta(hours=1)),
        round_("Finale", at=now + timedelta(days=2)),
    ]
    handle = await start(time_env, chain(rounds))
    await time_env.sleep(timedelta(seconds=30))
    await handle.execute_update(ChallengeChainWorkflow.pause, AS_HOST)
    first = await handle.query(ChallengeChainWorkflow.status)
    await time_env.sleep(timedelta(hours=3))
    later = await handle.query(ChallengeChainWorkflow.status)

    # Counted from the resume, not dated: the same however long the pause lasts.
    assert first.rounds == later.rounds
    current, ahead, finale = later.rounds
    assert current.due is None and current.after_resume is not None
    assert abs(current.after_resume - timedelta(seconds=30)) < timedelta(seconds=3)
    assert ahead.due is None and ahead.after_resume == current.after_resume + timedelta(hours=1)
    assert finale.after_resume is None and finale.due == now + timedelta(days=2)
    await handle.execute_update(ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD))


async def test_a_round_whose_reminder_could_never_be_sent_is_not_added(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    handle = await start(time_env, chain([round_("Round 1", timedelta(hours=1))]))
    five = [Reminder(offset=timedelta(minutes=5), message="5 minutes")]
    short = round_("Sprint", timedelta(minutes=1), reminders=five)
    # The workflow's own check, for a request that did not come through the client.
    with pytest.raises(WorkflowUpdateFailedError) as raw:
        await handle.execute_update(
            ChallengeChainWorkflow.add_round, AddRoundRequest(by=HOST, guild_id=GUILD, round=short)
        )
    assert "it is 1m long, shorter than its 5m reminder, which could never be sent" in str(raw.value.cause)
    with pytest.raises(ChallengeError, match=r"round Sprint: it is 1m long, shorter than its 5m reminder"):
        await Challenges(time_env.client, QUEUE).add_round(GUILD, "quiz", short, by=HOST)
    assert len((await handle.query(ChallengeChainWorkflow.status)).rounds) == 1
    await handle.execute_update(ChallengeChainWorkflow.cancel, CancelChainRequest(by=HOST, guild_id=GUILD))


async def test_a_round_added_in_the_chains_first_task_is_dated(
    time_env: WorkflowEnvironment, posts: Posts, worker: Worker
) -> None:
    """A round added before the chain had planned its first round was listed "time not known
    yet" (its estimate counted from a plan not made): now it is dated as the plan will be. Update
    with start puts the add in the chain's very first task."""
    now = await time_env.get_current_time()
    spec = chain([round_("Round 1", timedelta(hours=1))])
    started = WithStartWorkflowOperation(
        ChallengeChainWorkflow.run,
        ChallengeInput(spec=spec),
        id=challenge_id_for(GUILD, spec.key),
        task_queue=QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    added = await time_env.client.execute_update_with_start_workflow(
        ChallengeChainWorkflow.add_round,
        AddRoundRequest(by=HOST, guild_id=GUILD, round=round_("Bonus", timedelta(minutes=30))),
        start_workflow_operation=started,
    )
    assert [v.due is not None for v in added.rounds] == [True, True]
    assert added.rounds[0].due is not None and added.rounds[1].due is not None
    assert_near(added.rounds[0].due, now + timedelta(hours=1))
    assert_near(added.rounds[1].due, now + timedelta(minutes=90))
