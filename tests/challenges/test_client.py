"""The challenge facade's checks before anything starts: the short form, JSON plans, and the
rules every round must pass (actions from the catalogue, valid payloads, times ahead)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clients.challenges import (
    ChallengeError,
    Challenges,
    parse_reminders,
    parse_rounds,
    rounds_from_json,
)
from workflows.challenges_models import MAX_ROUNDS, RoundAction, RoundSpec
from workflows.safari_engine import PROCESS_ROUND_RESULTS  # registers the action this file uses

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def facade() -> Challenges:
    return Challenges(None, "q", clock=lambda: NOW)  # type: ignore[arg-type]  # validate needs no server


def validate(rounds: list[RoundSpec], **fields: Any) -> None:
    values: dict[str, Any] = {"key": "k", "title": "T", "guild_id": 1, "channel_id": 2, "host_id": 3}
    values.update(fields)
    facade().validate(rounds=rounds, rounds_per_run=None, **values)


def test_the_short_form_reads_waits_times_names_and_messages() -> None:
    rounds = parse_rounds(
        "2h Round 1 | Show us your best photo!\n\n1h30m Round 2\nat 2026-12-24T18:00 Grand finale",
        parse_reminders("30m, 5m"),
    )
    assert [(r.name, r.after, r.at) for r in rounds] == [
        ("Round 1", timedelta(hours=2), None),
        ("Round 2", timedelta(hours=1, minutes=30), None),
        ("Grand finale", None, datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
    ]
    assert rounds[0].actions[0].payload == {"content": "Show us your best photo!"}
    assert rounds[1].actions[0].payload == {"content": "🏁 **Round 2** starts now!"}
    assert [(r.offset, r.message) for r in rounds[2].reminders] == [
        (timedelta(minutes=30), "30m"),
        (timedelta(minutes=5), "5m"),
    ]


def test_an_at_line_takes_any_typed_time_in_the_members_zone() -> None:
    now = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # a Monday
    rounds = parse_rounds(
        "at Friday 20:00 Finale\nat 20:00 Warm up night\nat tomorrow 9:00 Breakfast\n"
        "at 2026-12-24 18:00 Eve\nat in 2h Soon\nat 2026-12-24T18:00Z Iso",
        zone="Europe/Paris",
        now=now,
    )
    assert [(r.name, r.at) for r in rounds] == [
        ("Finale", datetime(2026, 12, 11, 19, 0, tzinfo=UTC)),
        ("Warm up night", datetime(2026, 12, 7, 19, 0, tzinfo=UTC)),
        ("Breakfast", datetime(2026, 12, 8, 8, 0, tzinfo=UTC)),
        ("Eve", datetime(2026, 12, 24, 17, 0, tzinfo=UTC)),
        ("Soon", datetime(2026, 12, 7, 19, 0, tzinfo=UTC)),
        ("Iso", datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
    ]


def test_a_reminder_longer_than_its_round_is_refused_with_the_round_and_its_length() -> None:
    # Once left off that round without a word: the host expected a reminder that never came.
    rounds = parse_rounds("1h Long\n10m Short", parse_reminders("30m, 5m"))
    with pytest.raises(ChallengeError) as refused:
        validate(rounds)
    assert str(refused.value) == (
        "round 2 (Short): it is 10m long, shorter than its 30m reminder, which could never be sent: "
        "give the round a longer wait, or drop that reminder"
    )
    validate(parse_rounds("1h Long\n30m Just long enough", parse_reminders("30m, 5m")))
    soon = parse_rounds("at 2026-12-01T12:01Z Finale", parse_reminders("5m"))
    with pytest.raises(
        ChallengeError, match=r"round 1 \(Finale\): it comes in 1m, sooner than its 5m reminder"
    ):
        validate(soon)


def test_a_round_names_its_own_channel_last() -> None:
    photos, plain, named = parse_rounds(
        "2h Photos in <#4242> | Show us!\n1h Round #1\n1h Meet in #lobby", channel=lambda ref: 77
    )
    assert (photos.name, photos.channel_id, photos.actions[0].payload) == (
        "Photos",
        77,
        {"content": "Show us!"},
    )
    assert (plain.name, plain.channel_id) == ("Round #1", None)
    assert (named.name, named.channel_id) == ("Meet", 77)
    [mention] = parse_rounds("2h Photos in <#4242>")
    assert mention.channel_id == 4242
    # Without the bot's guild, only a mention names a channel.
    with pytest.raises(
        ChallengeError, match=r"line 1 .*#lobby is not a channel I know: name a round's channel last"
    ):
        parse_rounds("1h Meet in #lobby")
    [from_json], _ = rounds_from_json(
        json.dumps(
            [{"name": "R", "after": "PT1H", "channel_id": "4242", "actions": [{"action": "post_message"}]}]
        ).encode()
    )
    assert from_json.channel_id == 4242


def test_a_round_s_message_keeps_room_for_the_line_naming_the_chain() -> None:
    with pytest.raises(ChallengeError) as refused:
        validate(parse_rounds("1h Long | " + "x" * 1801))
    assert "round 1 (Long): its message has 1801 characters; a round's message may have at most 1800" in str(
        refused.value
    )
    validate(parse_rounds("1h Long | " + "x" * 1800))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "write at least one round"),
        ("2h", "line 1 ('2h'): write a wait and a name"),
        ("2 hours Round 1", "line 1 ('2 hours Round 1'): “2” is not a duration"),
        ("at tomorrow Finale", "line 1 ('at tomorrow Finale'): “tomorrow” is not a time: write a wait"),
        ("at Friday 25:00 Finale", "“Friday 25:00” is not a time of day: hours go to 23"),
        # Once an OverflowError, and Arabic-Indic digits once read as 1h:
        ("99999999999d Round 1", "line 1 ('99999999999d Round 1'): “99999999999d” is too long: at most 365"),
        ("\u0661h Round 1", "write its numbers with the digits 0 to 9"),
        ("at 0001-01-01T00:00+05:00 Finale", "0001-01-01 is not a date that can be scheduled"),
        ("at 9999-12-31T23:59-05:00 Finale", "give a year from 2000 to 2100"),
        ("1h " + "x" * 101, "): name: must be at most 100 characters long"),
        ("\n".join(["1m R"] * (MAX_ROUNDS + 1)), f"at most {MAX_ROUNDS} rounds"),
    ],
)
def test_the_short_form_refuses_with_the_line_at_fault(text: str, expected: str) -> None:
    with pytest.raises(ChallengeError) as refused:
        parse_rounds(text)
    assert expected in str(refused.value)


def test_waits_and_reminders() -> None:
    [now, later] = parse_rounds("0 Now\n1d2h3m4s Later")
    assert (now.after, later.after) == (timedelta(0), timedelta(days=1, hours=2, minutes=3, seconds=4))
    for bad in ("h", "5", "-1h", "1x", "99999999999m"):
        with pytest.raises(ChallengeError):
            parse_reminders(bad)
    with pytest.raises(ChallengeError, match="not at 0"):
        parse_reminders("30m, 0")


def test_a_json_plan_is_a_list_or_an_object_with_rounds() -> None:
    item = {
        "name": "R",
        "after": "PT1H",
        "actions": [{"action": "post_message", "payload": {"content": "Go"}}],
    }
    rounds, extra = rounds_from_json(json.dumps({"on_failure": "stop", "rounds": [item]}).encode())
    assert rounds[0].after == timedelta(hours=1) and extra == {"on_failure": "stop"}
    assert len(rounds_from_json(json.dumps([item, item]).encode())[0]) == 2
    for data, expected in (
        (b"\xff", "not JSON"),
        (b'{"round": []}', '"rounds": [...]'),
        (b'{"rounds": []}', "no rounds"),
        (
            json.dumps([{**item, "at": "2026-12-24T18:00:00Z"}]).encode(),
            "round 1: a round starts either after a wait or at a time",
        ),
        (json.dumps([item] * (MAX_ROUNDS + 1)).encode(), f"at most {MAX_ROUNDS} rounds"),
    ):
        with pytest.raises(ChallengeError) as refused:
            rounds_from_json(data)
        assert expected in str(refused.value)


def one(action: str, payload: dict[str, Any] | None = None, **start: Any) -> RoundSpec:
    return RoundSpec(
        name="R",
        actions=[RoundAction(action=action, payload=payload or {})],
        **(start or {"after": timedelta(hours=1)}),
    )


@pytest.mark.parametrize(
    ("round_", "expected"),
    [
        (one("launch_rocket"), "round 1 (R): no action named 'launch_rocket' is registered"),
        (one("send_reminder"), "send_reminder is a reminder action, not a round action"),
        (one("post_message", {"content": ""}), "bad payload for post_message: content:"),
        (one("post_message", {"content": "x"}, at=NOW - timedelta(minutes=1)), "which is in the past"),
        (one("post_message", {"content": "x"}, at=NOW + timedelta(days=400)), "more than 365 days away"),
        # Years no one means are refused as such (year 1 was "1-01-01 00:00 UTC, which is in the past").
        (one("post_message", at=datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-HOUR))), "give a year"),
        (one("post_message", at=datetime(1, 1, 1, tzinfo=timezone(5 * HOUR))), "give a year"),
    ],
)
def test_every_round_is_checked_before_anything_starts(round_: RoundSpec, expected: str) -> None:
    with pytest.raises(ChallengeError) as refused:
        validate([round_])
    assert expected in str(refused.value)


def test_the_chain_itself_is_checked() -> None:
    good = one("post_message", {"content": "x"})
    with pytest.raises(ChallengeError) as bad_key:
        validate([good], key="no spaces allowed")
    # Words, not the pattern the key is checked with.
    assert str(bad_key.value) == (
        "“no spaces allowed” cannot be a chain's key: a key is 1 to 60 letters, digits, -, _, . or :, "
        "like photo-hunt"
    )
    with pytest.raises(ChallengeError, match="a chain's title has 1 to 100 characters, not 101"):
        validate([good], title="x" * 101)
    with pytest.raises(ChallengeError, match="at least one round"):
        validate([])
    with pytest.raises(ChallengeError, match=f"at most {MAX_ROUNDS} rounds"):
        validate([good] * (MAX_ROUNDS + 1))
    validate([good, one(PROCESS_ROUND_RESULTS, {}, after=timedelta(0))])
