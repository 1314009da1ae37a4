"""The late-run policy: a job due while no worker ran (start_delay stands for the outage) runs
late and says so in its post, or, past its action's window, is recorded missed and the host told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.safari import build_cards, card_parts
from clients.custom_actions import run_payload
from clients.jobs import Jobs
from clients.jobs_retry import retry_job
from tests.jobs.test_activities import SlowChannel, activities
from tests.support import challenges_doubles as chains
from tests.support.custom_actions_doubles import Harness, custom_actions_worker
from tests.support.jobs_doubles import CHANNEL, GUILD, HOST, Doubles, job, start
from worker import build_worker
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import ChallengeInput, challenge_id_for
from workflows.custom_actions_models import EXECUTE_CUSTOM_ACTION, TextOutcome
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import POST_MESSAGE, action_spec
from workflows.jobs_models import ActionInput, IfLate, JobResult, job_id_for, job_suffix, run_tag
from workflows.safari_engine import PROCESS_ROUND_RESULTS, RoundResult

CA_QUEUE = "late-custom-actions"


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


# --- a custom action: the default window, both sides of it, and the line in its webhook post ---


async def late_custom_action(time_env: WorkflowEnvironment, h: Harness, lateness: timedelta) -> JobResult:
    created = await h.actions.create(GUILD, "Treasure", by=HOST)
    definition = await h.actions.edit(
        GUILD, created.id, lambda d: d.model_copy(update={"outcomes": [TextOutcome(text="A chest!")]})
    )
    now = await time_env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[]).model_copy(
        update={
            "action": EXECUTE_CUSTOM_ACTION,
            "payload": run_payload(definition, GUILD, CHANNEL, HOST, "host"),
        }
    )
    handle = await time_env.client.start_workflow(
        ScheduledJobWorkflow.run,
        spec,
        id=job_id_for(GUILD, "late-ca"),
        task_queue=CA_QUEUE,
        start_delay=timedelta(minutes=10) + lateness,
    )
    return await handle.result()


@pytest.fixture
async def h(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with custom_actions_worker(time_env.client, CA_QUEUE, await time_env.get_current_time()) as harness:
        yield harness


async def test_a_custom_action_just_within_its_window_posts_through_its_webhook_saying_it_is_late(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    window = action_spec(EXECUTE_CUSTOM_ACTION).late
    assert window == timedelta(hours=1)
    result = await late_custom_action(time_env, h, window - timedelta(seconds=5))
    assert result.outcome == "done"
    [post] = h.discord.posts
    assert post.content is not None
    header, note, text = post.content.split("\n")
    assert header == f"⏰ <@{HOST}>'s scheduled action **Treasure**" and text == "A chest!"
    assert note.startswith("-# due <t:") and note.endswith(": the bot was offline")
    assert h.notices == []


async def test_a_custom_action_just_past_its_window_is_missed_and_the_host_told(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    result = await late_custom_action(time_env, h, timedelta(hours=1, seconds=5))
    assert result.outcome == "missed"
    assert h.discord.posts == []
    [notice] = h.notices
    assert notice.scheduled_by == HOST and "this kind of job runs at most 1h late" in notice.reason


# --- a host's own choice for their post (`/schedule post if_late:`) ---------------------------


async def late_post(env: WorkflowEnvironment, lateness: timedelta, skip_after: timedelta | None) -> JobResult:
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[]).model_copy(
        update={"if_late": IfLate(skip_after=skip_after)}
    )
    handle = await start(env, spec, start_delay=timedelta(minutes=10) + lateness)
    return await handle.result()


async def test_within_a_window_the_host_chose_the_post_runs_late_and_says_so(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    result = await late_post(time_env, timedelta(minutes=10) - timedelta(seconds=5), timedelta(minutes=10))
    assert result.outcome == "done"
    [(action, _)] = doubles.actions
    assert action.late_note is not None and action.late_note.endswith(": the bot was offline")
    assert doubles.notices == []


async def test_past_a_window_the_host_chose_the_post_is_missed_and_the_host_told(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    # Well within the post's default hour: the host's ten minutes decide.
    result = await late_post(time_env, timedelta(minutes=10, seconds=5), timedelta(minutes=10))
    assert result.outcome == "missed"
    assert doubles.actions == []
    [notice] = doubles.notices
    assert f"<@{HOST}> chose to skip it if it could only run more than 10m late" in notice.reason


async def test_a_host_who_chose_run_anyway_gets_the_post_however_late(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    # Past the post's default hour, which would have missed it.
    result = await late_post(time_env, timedelta(days=2), None)
    assert result.outcome == "done"
    [(action, _)] = doubles.actions
    assert action.late_note is not None and "the bot was offline" in action.late_note
    assert doubles.notices == []


# --- the late line in the post of every action kind -------------------------------------------

NOTE = "due <t:1796670000:t>, posted <t:1796670840:t>: the bot was offline"


async def test_a_plain_post_ends_with_its_late_line_within_discords_limit() -> None:
    channel = SlowChannel()
    action = ActionInput(
        job_id="job-1-x",
        action=POST_MESSAGE,
        guild_id=1,
        channel_id=2,
        payload={"content": "y" * 2000},
        deadline=datetime(2026, 12, 7, 20, 0, tzinfo=UTC),
        scheduled_by=3,
        description="News",
        late_note=NOTE,
    )
    await ActivityEnvironment().run(activities(channel).post_message, action)
    [sent] = channel.sent
    assert sent.endswith(f"\n-# {NOTE}") and len(sent) == 2000


def test_a_safari_card_posted_late_says_so_once_on_its_first_part() -> None:
    result = RoundResult(
        round=1, event="good", roll=1, good_percent=30, amount=10,
        resolved_at=datetime(2026, 3, 1, tzinfo=UTC), resolved_by="r",
        before={10**17 + i: 100 for i in range(60)},
    )  # fmt: skip
    parts = card_parts(result, 3, NOTE)
    assert len(parts) > 1
    assert parts[0].header.endswith(f"\n-# {NOTE}")
    assert all(NOTE not in part.header for part in parts[1:])
    assert all(NOTE not in part.header for part in card_parts(result, 3))  # on time: no line
    assert len(build_cards(result, 3, NOTE)) == len(parts)  # still within Discord's limits


async def test_retry_of_a_missed_post_runs_it_once_however_late_its_worker_comes(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker
) -> None:
    now = await time_env.get_current_time()
    chosen = IfLate(skip_after=timedelta(minutes=10))
    spec = job(now, timedelta(minutes=10), reminders=[]).model_copy(update={"if_late": chosen})
    handle = await start(time_env, spec, start_delay=timedelta(minutes=30))
    assert (await handle.result()).outcome == "missed"
    first_run = (await handle.describe()).run_id

    # The host clicked Retry two hours ago, while no worker ran; one takes it only now. (The
    # client's clock stands at the click: the retry is due then.)
    clicked = await time_env.get_current_time() - timedelta(hours=2)
    await retry_job(
        time_env.client,
        Jobs(time_env.client, "jobs", clock=lambda: clicked),
        GUILD,
        job_suffix(handle.id, GUILD),
        run_tag(first_run),
        by=HOST,
    )
    retried = await time_env.client.get_workflow_handle(handle.id, result_type=JobResult).result()
    assert retried.outcome == "done"  # past the host's ten minutes: a Retry is never missed
    [(action, _)] = doubles.actions
    assert action.retry_of == first_run
    assert action.late_note is not None and action.late_note.endswith(": the bot was offline")


async def test_a_chain_round_run_after_an_outage_says_so_and_the_next_on_time_does_not(
    time_env: WorkflowEnvironment,
) -> None:
    posts = chains.Posts(time_env)
    notes: list[str | None] = []
    posts.action_behaviour = lambda action: notes.append(action.late_note)
    now = await time_env.get_current_time()
    spec = chains.chain(
        [
            chains.round_("Round 1", at=now + timedelta(minutes=10)),
            chains.round_("Round 2", timedelta(hours=1)),
        ]
    )
    async with build_worker(
        time_env.client, chains.QUEUE, posts.activities(), workflows=[ChallengeChainWorkflow]
    ):
        # No worker takes the chain until twenty minutes after its first round's moment.
        handle = await time_env.client.start_workflow(
            ChallengeChainWorkflow.run,
            ChallengeInput(spec=spec),
            id=challenge_id_for(chains.GUILD, spec.key),
            task_queue=chains.QUEUE,
            start_delay=timedelta(minutes=30),
        )
        assert (await handle.result()).outcome == "done"
    assert posts.actions() == ["Round 1 starts now!", "Round 2 starts now!"]
    late, on_time = notes
    assert late is not None and late.startswith("due <t:") and late.endswith(": the bot was offline")
    assert on_time is None
