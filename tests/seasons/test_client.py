"""Season rules and times, without a server: durations, rule checks and overrides, and a
host's wall-clock time in a named zone turned into the right UTC instant across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from clients.guild_settings import MemorySettings
from clients.seasons import SeasonError, Seasons
from components.seasons import CLAIM_BUTTON, SUBMIT_BUTTON
from workflows.seasons_models import (
    SEASON_RULES,
    RulesOverride,
    SeasonRules,
    Submission,
    turn_id_for,
)
from workflows.times import TimeError, wall_clock


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d", timedelta(days=1)),
        ("3d6h30m10s", timedelta(days=3, hours=6, minutes=30, seconds=10)),
        (" 2H 5M ", timedelta(hours=2, minutes=5)),
        ("60d", timedelta(days=60)),
    ],
)
def test_rule_durations_are_typed_and_stored_like_commands(text: str, expected: timedelta) -> None:
    override = RulesOverride(open_duration=text)
    assert override.open_duration == expected
    stored = override.model_dump(mode="json", exclude_none=True)
    assert RulesOverride.model_validate(stored).open_duration == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a duration"),
        ("tomorrow", "not a duration"),
        ("1h1d", "not a duration"),
        ("-1h", "not a duration"),
        ("0d0h", "not longer than zero"),
        ("61d", "“61d” is too long: at most 60 days"),
        ("99999999999d", "“99999999999d” is too long: at most 60 days"),  # was an OverflowError
        ("\u0661\u0662h", "digits 0 to 9"),  # was read as 12h
    ],
)
def test_bad_rule_durations_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        RulesOverride(claim_timeout=text)


def test_the_default_rules_are_the_seasons_documented_defaults() -> None:
    rules = SeasonRules()
    assert rules.turn_pattern == ["writing", "drawing"]
    assert (rules.claim_timeout, rules.claim_warning) == (timedelta(days=1), timedelta(hours=1))
    assert (rules.writing_timeout, rules.writing_warning) == (timedelta(days=1), timedelta(minutes=1))
    assert (rules.drawing_timeout, rules.drawing_warning) == (timedelta(days=1), timedelta(minutes=10))
    assert rules.open_duration == timedelta(days=7)
    assert (rules.min_players, rules.max_players) == (6, 20)
    assert [rules.kind_of(n) for n in range(4)] == ["writing", "drawing", "writing", "drawing"]
    # Stored and shown the way hosts write them.
    assert rules.model_dump(mode="json")["claim_timeout"] == "1d"


def test_overrides_apply_in_order_and_are_checked_together() -> None:
    guild = RulesOverride(claim_timeout="12h", min_players=4)
    season = RulesOverride(claim_timeout="2d")
    rules = SeasonRules().with_overrides(guild, season)
    assert rules.claim_timeout == timedelta(days=2) and rules.min_players == 4
    # A warning given with its timeout must come before it...
    with pytest.raises(
        ValidationError, match="claim warning \\(1h\\) must come before the claim timeout \\(30m\\)"
    ):
        SeasonRules().with_overrides(RulesOverride(claim_timeout="30m", claim_warning="1h"))


def test_a_timeout_given_alone_gets_a_warning_that_fits_it() -> None:
    """Once, `/season create claim_timeout:30m` was refused for the default 1-hour warning, which
    only `/season defaults` could change: a host needed three tries for short timers."""
    short = SeasonRules().with_overrides(
        RulesOverride(claim_timeout="30m", writing_timeout="2m", drawing_timeout="8m")
    )
    assert (short.claim_timeout, short.claim_warning) == (
        timedelta(minutes=30),
        timedelta(minutes=7, seconds=30),
    )
    assert short.writing_warning == timedelta(minutes=1)  # the default already fits 2 minutes
    assert short.drawing_warning == timedelta(minutes=2)
    # A warning that fits is kept, wherever it came from; the season's own warning wins.
    kept = SeasonRules().with_overrides(
        RulesOverride(claim_warning="2h"),
        RulesOverride(claim_timeout="1h", claim_warning="5m"),
    )
    assert kept.claim_warning == timedelta(minutes=5)
    fitted = SeasonRules().with_overrides(
        RulesOverride(claim_warning="2h"),
        RulesOverride(claim_timeout="1h"),
    )
    assert fitted.claim_warning == timedelta(minutes=15)
    with pytest.raises(ValidationError, match="less than or equal to 30"):
        RulesOverride(max_players=31)


async def test_guild_defaults_are_kept_and_used_by_new_seasons() -> None:
    facade = Seasons(client=None, task_queue="unused", settings=MemorySettings())  # type: ignore[arg-type]
    rules = await facade.set_guild_rules(1, {"claim_timeout": "6h", "max_players": 8})
    assert rules.claim_timeout == timedelta(hours=6) and rules.max_players == 8
    assert (await facade.guild_rules(1)).claim_timeout == timedelta(hours=6)
    assert (await facade.guild_rules(2)).claim_timeout == timedelta(days=1)
    with pytest.raises(SeasonError, match="not a duration"):
        await facade.set_guild_rules(1, {"writing_timeout": "soon"})
    # Once an OverflowError: refused with the limit, and the stored default left as it was.
    with pytest.raises(SeasonError, match="claim timeout: “99999999999d” is too long: at most 60 days"):
        await facade.set_guild_rules(1, {"claim_timeout": "99999999999d"})
    assert (await facade.guild_rules(1)).claim_timeout == timedelta(hours=6)
    assert (await facade.guild_rules(1)).writing_timeout == timedelta(days=1)
    back = await facade.set_guild_rules(1, {"claim_timeout": None})
    assert back.claim_timeout == timedelta(days=1) and back.max_players == 8


RULES = (
    "the rules are turn_pattern, claim_timeout, claim_warning, writing_timeout, writing_warning, "
    "drawing_timeout, drawing_warning, open_duration, min_players, max_players"
)


class Untouchable:
    """A Temporal client a refused request may not reach: any use fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the Temporal client was used ({name}) for a refused request")


async def test_an_unknown_rule_is_refused_naming_it_and_the_rules_there_are() -> None:
    """Once silently ignored: a season started, or defaults saved, without the rule asked for."""
    settings = MemorySettings()
    facade = Seasons(client=Untouchable(), task_queue="unused", settings=settings)  # type: ignore[arg-type]
    await facade.set_guild_rules(1, {"claim_timeout": "6h"})
    with pytest.raises(SeasonError, match=f"there is no season rule called claim_timout; {RULES}"):
        await facade.set_guild_rules(1, {"claim_timout": "2h"})
    with pytest.raises(SeasonError, match="no season rule called players"):
        await facade.set_guild_rules(1, {"players": None})  # even a reset names a real rule
    assert await settings.read(1) == {SEASON_RULES: {"claim_timeout": "6h"}}  # nothing written
    with pytest.raises(SeasonError, match=f"there is no season rule called max_player; {RULES}"):
        await facade.create(guild_id=1, channel_id=2, host_id=3, overrides={"max_player": 8})
    with pytest.raises(ValidationError, match="no season rule called rounds"):
        SeasonRules().with_overrides(RulesOverride.model_validate({"rounds": 3}))


async def test_stored_defaults_keep_working_past_a_rule_a_later_version_dropped() -> None:
    settings = MemorySettings()
    await settings.write(1, SEASON_RULES, {"claim_timeout": "6h", "old_rule": True})
    facade = Seasons(client=Untouchable(), task_queue="unused", settings=settings)  # type: ignore[arg-type]
    assert (await facade.guild_rules(1)).claim_timeout == timedelta(hours=6)
    changed = await facade.set_guild_rules(1, {"max_players": 8})
    assert (changed.claim_timeout, changed.max_players) == (timedelta(hours=6), 8)
    assert await settings.read(1) == {SEASON_RULES: {"claim_timeout": "6h", "max_players": 8}}


def test_a_wall_clock_time_in_paris_across_the_autumn_change() -> None:
    # Thursday 22 October 2026, 12:00 UTC (14:00 CEST); Paris returns to CET on Sunday 25.
    now = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)
    assert wall_clock("Monday 18:00", "Europe/Paris", now) == datetime(2026, 10, 26, 17, 0, tzinfo=UTC)
    assert wall_clock("fri 18:00", "Europe/Paris", now) == datetime(2026, 10, 23, 16, 0, tzinfo=UTC)
    # Today's 18:00 is still ahead; a weekday that is today but already past means next week.
    assert wall_clock("18:00", "Europe/Paris", now) == datetime(2026, 10, 22, 16, 0, tzinfo=UTC)
    assert wall_clock("Thursday 09:00", "Europe/Paris", now) == datetime(2026, 10, 29, 8, 0, tzinfo=UTC)


def test_a_wall_clock_time_in_new_york_across_the_spring_change() -> None:
    now = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Friday, EST (UTC-5); EDT from Sunday 8 March
    assert wall_clock("2026-03-09 18:00", "America/New_York", now) == datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
    with pytest.raises(TimeError, match="does not exist on 2026-03-08 in America/New_York"):
        wall_clock("2026-03-08 02:30", "America/New_York", now)


@pytest.mark.parametrize(
    ("text", "zone", "reason"),
    [
        ("Friday 18:00", "Mars/Olympus", "not a time zone"),
        ("someday 18:00", "Europe/Paris", "not a day of the week"),
        ("Friday", "Europe/Paris", "not a time"),
        ("25:00", "Europe/Paris", "not a time of day"),
        ("2020-01-01 10:00", "Europe/Paris", "already passed"),
        ("0001-01-01 00:00", "Europe/Paris", "give a year from 2000 to 2100"),  # was an OverflowError
        ("9999-12-31 23:59", "America/New_York", "give a year from 2000 to 2100"),  # was an OverflowError
    ],
)
def test_bad_wall_clock_times_say_why(text: str, zone: str, reason: str) -> None:
    with pytest.raises(TimeError, match=reason):
        wall_clock(text, zone, datetime(2026, 10, 22, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("submission", "problem"),
    [
        (Submission(kind="writing", text="  "), "empty"),
        (Submission(kind="writing", text="x" * 1001), "1001 characters; the limit is 1000"),
        (Submission(kind="drawing"), "attach an image"),
        (Submission(kind="drawing", image_url="http://x/a.png", content_type="image/png"), "https"),
        (
            Submission(kind="drawing", image_url="https://cdn/a.pdf", content_type="application/pdf"),
            "not an image",
        ),
    ],
)
def test_submissions_are_checked(submission: Submission, problem: str) -> None:
    found = submission.problem()
    assert found is not None and problem in found
    assert Submission(kind="writing", text="x" * 1000).problem() is None


def test_a_drawing_uploaded_in_the_playground_is_accepted() -> None:
    """The playground serves its uploads over http on loopback: its drawings were once refused as
    "not an image uploaded to Discord", so no season could finish there."""
    url = "http://127.0.0.1:8235/attachments/1300000000000000001/cat.png"
    assert Submission(kind="drawing", image_url=url, content_type="image/png").problem() is None


def test_button_ids_name_the_turn_within_discords_limit() -> None:
    turn = turn_id_for(2**63 - 1, datetime(2026, 1, 1, tzinfo=UTC), 29, 29, 29)
    assert len(SUBMIT_BUTTON.build(turn_id=turn, kind="drawing")) <= 100
    assert len(CLAIM_BUTTON.build(turn_id=turn)) <= 100
    with pytest.raises(ValueError):
        CLAIM_BUTTON.build(turn_id="whisper-1-2-abcdef12")
