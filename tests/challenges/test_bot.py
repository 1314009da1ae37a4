"""Challenge chains through the bot, in process (simcord), on the time-skipping server: the
create modal, the JSON import, /challenge show with Discord timestamps, skip, pause, resume and
cancel, and bad input refused with one clear line and nothing started."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import discord
import pytest
from simcord import assert_message, assert_responded
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from clients.challenges import Challenges
from tests.support.bot_harness import World, answered, as_datetime, bot_env, last_reply, unix_times
from tests.support.challenges_doubles import Posts
from tests.support.jobs_doubles import assert_near
from worker import build_worker
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import MAX_ROUNDS, challenge_id_for
from workflows.store import StoreWorkflow

QUEUE = "bot-challenges"
PLAN = "1h Round 1 | Show us your best photo!\n2h Round 2\n30m Finale"


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[World]:
    posts = Posts(time_env)
    async with (
        build_worker(
            time_env.client, QUEUE, posts.activities(), workflows=[ChallengeChainWorkflow, StoreWorkflow]
        ),
        bot_env(time_env.client, QUEUE) as w,
    ):
        yield w


async def exists(w: World, key: str) -> bool:
    try:
        await w.client.get_workflow_handle(challenge_id_for(w.guild.id, key)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def create(w: World, key: str, rounds: str, reminders: str = "") -> str:
    modal = answered(await w.host.slash(w.channel, "challenge create"))
    assert modal.modal is not None
    done = answered(
        await w.host.submit_modal(
            modal, {"key": key, "title": "Photo hunt", "rounds": rounds, "reminders": reminders}
        )
    )
    return last_reply(done).content


@pytest.mark.wall_clock
async def test_an_at_round_is_read_in_the_hosts_zone(world: World) -> None:
    w = world
    await w.bot.time_zones.set_member(w.guild.id, w.host.id, "America/New_York")
    modal = answered(await w.host.slash(w.channel, "challenge create"))
    done = answered(
        await w.host.submit_modal(modal, {"key": "local", "title": "Night", "rounds": "at 21:30 Night owl"})
    )
    assert done.response is not None and done.response.ephemeral and "Started" in done.response.content
    assert "/challenge show key:local" in done.response.content  # where to go next, not just "Started."
    assert not last_reply(done).ephemeral
    assert "Challenge **Night** started: 1 round" in last_reply(done).content
    status = await Challenges(w.client, QUEUE).status(w.guild.id, "local")
    [round_] = status.rounds
    assert round_.due is not None
    local = round_.due.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (21, 30)

    added = last_reply(
        answered(await w.host.slash(w.channel, "challenge add", key="local", round="at Friday 20:00 Encore"))
    )
    assert "Added **Encore**" in added.content
    status = await Challenges(w.client, QUEUE).status(w.guild.id, "local")
    encore = status.rounds[-1].due
    assert encore is not None
    local = encore.astimezone(ZoneInfo("America/New_York"))
    assert (local.strftime("%A"), local.hour, local.minute) == ("Friday", 20, 0)


@pytest.mark.wall_clock
async def test_a_host_creates_a_chain_and_everyone_sees_its_times(world: World) -> None:
    w = world
    start = await WorkflowEnvironment.from_client(w.client).get_current_time()
    text = await create(w, "hunt", PLAN, reminders="30m, 5m")
    assert "Challenge **Photo hunt** started: 3 rounds" in text

    shown = answered(await w.player.slash(w.channel, "challenge show", key="hunt"))
    plan = last_reply(shown)
    assert_message(plan, ephemeral=True)
    body = plan.content
    assert body.index("Round 1") < body.index("Round 2") < body.index("Finale")
    assert "round 1 of 3" in body
    times = [as_datetime(t) for t in unix_times(body)]
    # Each round's time twice (F and R): 1 h, then 2 h after it, then 30 min after that.
    assert len(times) == 6
    for moment, hours in zip(times[::2], (1, 3, 3.5), strict=True):
        assert_near(moment, start + timedelta(hours=hours), slack=timedelta(seconds=10))
    status = await Challenges(w.client, QUEUE).status(w.guild.id, "hunt")
    assert [r.name for r in status.rounds] == ["Round 1", "Round 2", "Finale"]
    assert status.host_id == w.host.id and status.channel_id == w.channel.id


async def test_hosts_skip_pause_resume_and_cancel(world: World) -> None:
    w = world
    await create(w, "steer", PLAN)
    chains = Challenges(w.client, QUEUE)

    skipped = answered(await w.host.slash(w.channel, "challenge skip", key="steer"))
    assert_message(last_reply(skipped), contains="Skipped round 1: **Round 1**", ephemeral=True)
    assert [r.state for r in (await chains.status(w.guild.id, "steer")).rounds][:2] == ["skipped", "current"]
    # A skip names the round it is for: one for a round that is over skips nothing, and says why.
    late = answered(await w.host.slash(w.channel, "challenge skip", key="steer", round=1))
    assert_message(
        last_reply(late),
        contains="Nothing changed: round 1 (Round 1) was already skipped at <t:",
        ephemeral=True,
    )
    assert [r.state for r in (await chains.status(w.guild.id, "steer")).rounds][:2] == ["skipped", "current"]

    paused = answered(await w.host.slash(w.channel, "challenge pause", key="steer"))
    assert_message(last_reply(paused), contains="Paused", ephemeral=True)
    assert "the current round comes 2h after the chain is resumed" in last_reply(paused).content
    again = answered(await w.host.slash(w.channel, "challenge pause", key="steer"))
    assert_message(
        last_reply(again), contains="Nothing changed: this chain is already paused", ephemeral=True
    )

    resumed = answered(await w.host.slash(w.channel, "challenge resume", key="steer"))
    assert_message(last_reply(resumed), contains="Resumed", ephemeral=True)
    assert (await chains.status(w.guild.id, "steer")).state == "waiting"

    added = answered(await w.host.slash(w.channel, "challenge add", key="steer", round="45m Bonus | Extra!"))
    assert_message(last_reply(added), contains="Added **Bonus**", ephemeral=True)
    assert "4. **Bonus**: about <t:" in last_reply(added).content
    bad = answered(await w.host.slash(w.channel, "challenge add", key="steer", round="Bonus"))
    assert_responded(
        bad, contains="Nothing changed: line 1 ('Bonus'): write a wait and a name", ephemeral=True
    )
    assert len((await chains.status(w.guild.id, "steer")).rounds) == 4

    cancelled = answered(await w.host.slash(w.channel, "challenge cancel", key="steer"))
    assert_message(last_reply(cancelled), contains="Cancelled", ephemeral=True)
    gone = answered(await w.host.slash(w.channel, "challenge skip", key="steer"))
    assert_message(last_reply(gone), contains="Nothing changed", ephemeral=True)


async def test_players_cannot_create_or_steer(world: World) -> None:
    w = world
    unknown = answered(await w.player.slash(w.channel, "challenge show", key="nope"))
    assert_message(last_reply(unknown), contains="there is no chain 'nope' in this server", ephemeral=True)
    refused = answered(await w.player.slash(w.channel, "challenge create"))
    assert refused.modal is None
    assert_responded(refused, contains="Only a host", ephemeral=True)
    await create(w, "mine", PLAN)
    for verb in ("skip", "pause", "cancel"):
        no = answered(await w.player.slash(w.channel, f"challenge {verb}", key="mine"))
        assert_message(last_reply(no), contains="Only a host", ephemeral=True)
    assert [r.state for r in (await Challenges(w.client, QUEUE).status(w.guild.id, "mine")).rounds] == [
        "current",
        "ahead",
        "ahead",
    ]


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        ("1h Round 1\nsoon Round 2", "line 2 ('soon Round 2'): “soon” is not a duration"),
        (  # was an OverflowError
            "99999999999d Round 1",
            "line 1 ('99999999999d Round 1'): “99999999999d” is too long: at most 365 days",
        ),
        ("1h Round 1\nRound2", "line 2 ('Round2'): write a wait and a name"),
        (
            "at 2020-01-01T18:00Z Old final",
            "round 1 (Old final) is at 2020-01-01 18:00 UTC, which is in the past",
        ),
        (
            "\n".join(f"1m R{n}" for n in range(MAX_ROUNDS + 1)),
            f"a chain has at most {MAX_ROUNDS} rounds, not {MAX_ROUNDS + 1}",
        ),
    ],
    ids=["malformed-wait", "absurd-wait", "malformed-line", "round-in-the-past", "too-many-rounds"],
)
async def test_bad_input_gets_one_clear_message_and_starts_nothing(
    world: World, rounds: str, expected: str
) -> None:
    w = world
    modal = answered(await w.host.slash(w.channel, "challenge create"))
    done = answered(await w.host.submit_modal(modal, {"key": "bad", "title": "Bad", "rounds": rounds}))
    assert done.followups == []
    assert_responded(done, contains=f"Nothing was started: {expected}", ephemeral=True)
    assert not await exists(w, "bad")


async def test_a_json_plan_is_imported_or_refused_clearly(world: World) -> None:
    w = world
    plan = {
        "on_failure": "stop",
        "rounds": [
            {
                "name": "Safari round",
                "after": "PT2H",
                "reminders": [{"offset": "PT30M", "message": "30 minutes"}],
                "actions": [{"action": "post_message", "payload": {"content": "Go!"}}],
            }
        ],
    }
    done = answered(
        await w.host.slash(
            w.channel,
            "challenge import",
            file=("plan.json", json.dumps(plan).encode()),
            key="json",
            title="Safari",
        )
    )
    assert_message(last_reply(done), contains="Challenge **Safari** started: 1 round", ephemeral=False)
    assert await exists(w, "json")

    bad = {"rounds": [{"name": "No actions", "after": "PT1H", "actions": []}]}
    refused = answered(
        await w.host.slash(
            w.channel,
            "challenge import",
            file=("bad.json", json.dumps(bad).encode()),
            key="json2",
            title="Bad",
        )
    )
    assert_message(last_reply(refused), contains="Nothing was started: round 1: actions:", ephemeral=True)
    unknown = {"rounds": [{"name": "R", "after": "PT1H", "actions": [{"action": "launch_rocket"}]}]}
    refused = answered(
        await w.host.slash(
            w.channel,
            "challenge import",
            file=("x.json", json.dumps(unknown).encode()),
            key="json3",
            title="X",
        )
    )
    assert_message(last_reply(refused), contains="no action named 'launch_rocket'", ephemeral=True)
    not_json = answered(
        await w.host.slash(w.channel, "challenge import", file=("y.json", b"{rounds"), key="json4", title="Y")
    )
    assert_message(last_reply(not_json), contains="Nothing was started: the file is not JSON", ephemeral=True)
    assert not any([await exists(w, k) for k in ("json2", "json3", "json4")])


@pytest.mark.wall_clock
async def test_a_host_moves_the_current_round_and_a_player_is_refused(world: World) -> None:
    w = world
    start = await WorkflowEnvironment.from_client(w.client).get_current_time()
    await create(w, "move", "1h Round 1\n1h Round 2")
    refused = last_reply(answered(await w.player.slash(w.channel, "challenge shift", key="move", by="+30m")))
    assert refused.ephemeral and "Only a host" in refused.content

    moved = last_reply(
        answered(await w.host.slash(w.channel, "challenge shift", key="move", by="+30m", whole=True))
    )
    assert "Moved the round and every round after it 30m later." in moved.content
    status = await Challenges(w.client, QUEUE).status(w.guild.id, "move")
    assert status.rounds[0].due is not None and status.rounds[1].due is not None
    assert unix_times(moved.content)[0] == int(status.rounds[0].due.timestamp())
    assert_near(status.rounds[0].due, start + timedelta(minutes=90))
    assert_near(status.rounds[1].due, start + timedelta(minutes=150))

    bad = last_reply(answered(await w.host.slash(w.channel, "challenge shift", key="move", by="soon")))
    assert bad.content.startswith("Nothing changed:") and "“soon”" in bad.content


async def test_a_paused_chain_says_the_time_left_as_kept_and_stops_counting_down(
    world: World, time_env: WorkflowEnvironment
) -> None:
    w = world
    await create(w, "short", "1m Round 1\n1h Round 2")
    await time_env.sleep(timedelta(seconds=30))

    paused = last_reply(answered(await w.host.slash(w.channel, "challenge pause", key="short")))
    # 30 s were left and 30 s are kept: the reply must not promise a whole minute.
    assert "the current round comes less than a minute after the chain is resumed" in paused.content
    assert "1. **Round 1**: paused, less than a minute left" in paused.content
    assert "2. **Round 2**: about 1h after the chain is resumed" in paused.content
    # No Discord timestamp: it would count down on every reader's screen while nothing moves.
    assert "<t:" not in paused.content

    await time_env.sleep(timedelta(hours=3))
    shown = last_reply(answered(await w.player.slash(w.channel, "challenge show", key="short")))
    assert "1. **Round 1**: paused, less than a minute left" in shown.content and "<t:" not in shown.content


async def test_a_reminder_longer_than_its_round_is_refused_when_the_round_is_added(world: World) -> None:
    w = world
    refused = await create(w, "sprint", "1m Round 1", reminders="5m")
    assert refused == (
        "Nothing was started: round 1 (Round 1): it is 1m long, shorter than its 5m reminder, which "
        "could never be sent: give the round a longer wait, or drop that reminder"
    )
    assert not await exists(w, "sprint")
    await create(w, "sprint", "1h Round 1", reminders="5m")
    added = answered(
        await w.host.slash(w.channel, "challenge add", key="sprint", round="1m Bonus", reminders="5m")
    )
    assert_message(
        last_reply(added),
        contains="Nothing changed: round Bonus: it is 1m long, shorter than its 5m reminder",
        ephemeral=True,
    )
    assert len((await Challenges(w.client, QUEUE).status(w.guild.id, "sprint")).rounds) == 1


async def test_a_bad_key_is_refused_in_words(world: World) -> None:
    w = world
    refused = await create(w, "my chain!", PLAN)
    assert refused == (
        "Nothing was started: “my chain!” cannot be a chain's key: a key is 1 to 60 letters, digits, "
        "-, _, . or :, like photo-hunt"
    )


async def test_a_round_posts_in_a_channel_of_its_own_if_the_bot_can_post_there(world: World) -> None:
    w = world
    assert w.bot.user is not None
    photos = w.guild.create_text_channel("photos")
    closed = w.guild.create_text_channel(
        "read-only", overwrites={w.bot.user: discord.PermissionOverwrite(send_messages=False)}
    )
    text = await create(w, "hunt", "1h Round 1\n1h Photos in #photos | Show us!")
    assert "started: 2 rounds" in text
    status = await Challenges(w.client, QUEUE).status(w.guild.id, "hunt")
    assert [r.channel_id for r in status.rounds] == [None, photos.id]
    shown = last_reply(answered(await w.player.slash(w.channel, "challenge show", key="hunt")))
    assert f"2. **Photos** in <#{photos.id}>: about" in shown.content

    for rounds, expected in (
        ("1h Round 1 in #nowhere", "line 1 ('1h Round 1 in #nowhere'): there is no channel #nowhere"),
        (
            "1h Round 1 in #read-only",
            f"round 1 (Round 1): I cannot post in <#{closed.id}>: give me View Channel and Send Messages",
        ),
    ):
        assert (await create(w, "other", rounds)).startswith(f"Nothing was started: {expected}")
        assert not await exists(w, "other")
    added = answered(
        await w.host.slash(w.channel, "challenge add", key="hunt", round=f"1h Bonus in <#{closed.id}>")
    )
    assert_message(
        last_reply(added),
        contains=f"Nothing changed: round Bonus: I cannot post in <#{closed.id}>",
        ephemeral=True,
    )
    added = answered(
        await w.host.slash(w.channel, "challenge add", key="hunt", round=f"1h Bonus in <#{photos.id}>")
    )
    assert_message(last_reply(added), contains="Added **Bonus**", ephemeral=True)
    status = await Challenges(w.client, QUEUE).status(w.guild.id, "hunt")
    assert [r.channel_id for r in status.rounds] == [None, photos.id, photos.id]
