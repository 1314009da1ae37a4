"""clients/calls.py, the one way every client talks to its workflows: with no worker, each
feature's update ends in its "not confirmed" within the call's time, and a caller that gives up
first still sees its own timeout; a request past the server's limit is refused before it is sent;
the server's own failures are told apart from a workflow's refusal. The real dev server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from bot.replies import NotAnswered, in_time
from clients import calls
from clients.calls import (
    BLOB_LIMIT,
    MAX_REQUEST_BYTES,
    NOT_CONFIRMED,
    Calls,
    NotConfirmed,
    Refusals,
    TooLarge,
    busy,
    said,
)
from clients.challenges import ChallengeError, Challenges
from clients.health import HealthChecks
from clients.jobs import Jobs
from clients.jobs import NotConfirmed as JobNotConfirmed
from clients.seasons import Seasons
from clients.store import PersistentStore, StoreLimitError
from clients.whispers import Whispers, whisper_id_for
from workflows.challenges_models import RoundAction, RoundSpec, challenge_id_for
from workflows.common import UserError
from workflows.health_models import health_id_for
from workflows.jobs_actions import POST_MESSAGE
from workflows.jobs_models import job_id_for
from workflows.seasons_models import season_id_for
from workflows.store import StoreWorkflow
from workflows.store_models import GetRequest

pytestmark = pytest.mark.asyncio(loop_scope="module")

GUILD = 111
USER = 222
JOB_WORDS = "the scheduler has not answered (a worker may be restarting), so this is not confirmed"


async def workflow_without_worker(client: Client, workflow_id: str) -> str:
    """A running workflow nobody hosts: the server holds every update for a worker that never comes."""
    await client.start_workflow("NobodyHostsThis", id=workflow_id, task_queue=f"none-{uuid.uuid4().hex}")
    return workflow_id


def a_key() -> str:
    return f"k{uuid.uuid4().hex[:8]}"


async def jobs_cancel(client: Client) -> None:
    key = a_key()
    job_id = await workflow_without_worker(client, job_id_for(GUILD, key))
    await Jobs(client, "q").cancel(job_id, by=USER, guild_id=GUILD)


async def whispers_unsend(client: Client) -> None:
    whisper_id = await workflow_without_worker(client, whisper_id_for(GUILD, USER))
    await Whispers(client, "q").cancel(whisper_id, by=USER)


async def challenges_pause(client: Client) -> None:
    key = a_key()
    await workflow_without_worker(client, challenge_id_for(GUILD, key))
    await Challenges(client, "q").pause(GUILD, key, by=USER, as_host=True)


async def health_pause(client: Client) -> None:
    guild = int(str(uuid.uuid4().int)[:12])
    await workflow_without_worker(client, health_id_for(guild))
    await HealthChecks(client, "q").pause(guild, by=USER)


async def seasons_join(client: Client) -> None:
    guild = int(str(uuid.uuid4().int)[:12])
    await workflow_without_worker(client, season_id_for(guild))
    await Seasons(client, "q").join(guild, USER)


async def store_set(client: Client) -> None:
    store = await PersistentStore.create(client, a_key(), f"none-{uuid.uuid4().hex}")
    await store.set("a", 1)


FEATURES: dict[str, tuple[Callable[[Client], Awaitable[None]], type[UserError], str]] = {
    "jobs": (jobs_cancel, JobNotConfirmed, JOB_WORDS),
    "whispers": (whispers_unsend, NotConfirmed, NOT_CONFIRMED),
    "challenges": (challenges_pause, NotConfirmed, NOT_CONFIRMED),
    "health": (health_pause, NotConfirmed, NOT_CONFIRMED),
    "seasons": (seasons_join, NotConfirmed, NOT_CONFIRMED),
    "store": (store_set, NotConfirmed, NOT_CONFIRMED),
}


@pytest.mark.parametrize("feature", FEATURES)
async def test_with_no_worker_every_feature_says_not_confirmed_in_time(
    client: Client, monkeypatch: pytest.MonkeyPatch, feature: str
) -> None:
    call, kind, words = FEATURES[feature]
    monkeypatch.setattr(calls, "CALL_TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(kind) as refused:
        await asyncio.wait_for(call(client), 30)
    assert str(refused.value) == words
    assert 1.0 <= time.monotonic() - started < 10


async def test_a_caller_that_gives_up_first_sees_its_own_timeout(client: Client) -> None:
    """The bot's wait (shorter than the call's) must end as "not answered", not as the client's
    refusal: the SDK turns the cancelled update into its own error, which is not a cancellation."""
    started = time.monotonic()
    with pytest.raises(NotAnswered):
        await in_time(jobs_cancel(client), 1.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(challenges_pause(client), 1.0)
    assert time.monotonic() - started < 10


async def test_a_request_past_the_limit_is_refused_before_it_is_sent(client: Client) -> None:
    workflow_id = await workflow_without_worker(client, f"huge-{uuid.uuid4().hex}")
    handle = client.get_workflow_handle(workflow_id)
    store = client.get_workflow_handle_for(StoreWorkflow.run, workflow_id)
    refusals = Refusals(refused=UserError, over=lambda: UserError("over"))
    started = time.monotonic()
    with pytest.raises(TooLarge, match=r"one request may carry at most 2,031,616 bytes \(the server"):
        await Calls(client, refusals).signal(handle, "anything", "x" * (3 * 1024 * 1024))
    with pytest.raises(TooLarge, match=r"at most 2,031,616 bytes"):
        await Calls(client, refusals).query(store, StoreWorkflow.get, GetRequest(key="x" * BLOB_LIMIT))
    assert time.monotonic() - started < 5  # refused here: nothing was sent, so nothing waited
    # Just under the limit goes out: the server takes a signal with no worker.
    await Calls(client, refusals).signal(handle, "anything", "x" * (MAX_REQUEST_BYTES - 1024))
    history = await handle.fetch_history()
    assert (
        sum(event.HasField("workflow_execution_signaled_event_attributes") for event in history.events) == 1
    )


async def test_the_limit_is_the_one_the_server_reports(client: Client) -> None:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    assert described.namespace_info.limits.blob_size_limit_error == BLOB_LIMIT


async def test_a_store_too_large_for_the_server_is_a_store_limit_refusal(client: Client) -> None:
    """A 5 MB write was resent for 40 s before it failed; it is refused before it is sent, by the
    store's own limit (the server's would refuse it too)."""
    store = await PersistentStore.create(client, a_key(), f"none-{uuid.uuid4().hex}")
    with pytest.raises(StoreLimitError, match=rf"store {store.name!r}: the value for 'k' is 5,000,002 bytes"):
        await store.set("k", "x" * 5_000_000)


async def test_a_chain_too_large_to_start_is_refused_and_nothing_starts(client: Client) -> None:
    """300 rounds of 5 full-length posts: about 3 MB, which the server refused with an RPC error."""
    actions = [RoundAction(action=POST_MESSAGE, payload={"content": "x" * 2000})] * 5
    rounds = [RoundSpec(name=f"round {n}", after=timedelta(hours=n + 1), actions=actions) for n in range(300)]
    key = a_key()
    with pytest.raises(ChallengeError):
        await Challenges(client, "q").create(
            key=key, title="Huge", guild_id=GUILD, channel_id=USER, host_id=USER, rounds=rounds
        )
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(challenge_id_for(GUILD, key)).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_the_servers_own_failures_are_told_apart_from_a_refusal() -> None:
    class Mine(UserError):
        pass

    class Over(UserError):
        pass

    refusals = Refusals(refused=UserError, over=lambda: Over("it is over"), kinds={"MINE": said(Mine)})
    mine = refusals.of(ApplicationError("not yours", type="MINE"), refusals.over)
    other = refusals.of(ApplicationError("no", type="OTHER"), refusals.over)
    outlived = ApplicationError("Workflow Update failed because the Workflow completed", type=calls.OUTLIVED)
    assert (type(mine), str(mine)) == (Mine, "not yours")
    assert (type(other), str(other)) == (UserError, "no")
    assert isinstance(refusals.of(outlived, refusals.over), Over)
    assert isinstance(refusals.of(None, refusals.over), Over)
    # Past the server's message size is RESOURCE_EXHAUSTED too, but it is not "busy": it was
    # sent again for a minute as if too many updates were in flight.
    too_big = RPCError(
        "grpc: received message larger than max (5001804 vs. 4194304)", RPCStatusCode.RESOURCE_EXHAUSTED, b""
    )
    assert not busy(too_big)
    in_flight = RPCError(
        "limit on number of concurrent in-flight updates has been reached",
        RPCStatusCode.RESOURCE_EXHAUSTED,
        b"",
    )
    assert busy(in_flight)
