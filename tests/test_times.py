"""The one time grammar (`workflows/times.py`), without a server: durations as typed, their
bounds, the two printed forms, Discord timestamps, and absolute times a user types."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

import pytest

from workflows import times
from workflows.common import UserError
from workflows.times import (
    TimeError,
    check_duration,
    check_instant,
    discord_time,
    duration_from_fields,
    format_duration,
    format_human,
    format_remaining,
    parse_duration,
    parse_instant,
    wall_clock,
    when,
)

DAY, HOUR, MINUTE, SECOND = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)


# --- the grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", 90 * MINUTE),
        ("1h30m", HOUR + 30 * MINUTE),
        ("3d6h30m10s", 3 * DAY + 6 * HOUR + 30 * MINUTE + 10 * SECOND),
        ("in 2h", 2 * HOUR),
        ("IN 2H", 2 * HOUR),
        (" 2H 5M ", 2 * HOUR + 5 * MINUTE),
        ("1d 6h", DAY + 6 * HOUR),
        ("45s", 45 * SECOND),
        ("0001h", HOUR),  # leading zeros are not digits that count
    ],
)
def test_durations_parse_and_print_back(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "tomorrow", "1h1d", "-1h", "5", "1x", "h", "in", "2h in", "1.5h"]
)
def test_what_is_not_a_duration_says_how_to_write_one(text: str) -> None:
    with pytest.raises(TimeError, match="is not a duration: write it like 90m, 1h30m or 3d6h"):
        parse_duration(text)


def test_the_message_quotes_what_was_typed() -> None:
    with pytest.raises(TimeError) as refused:
        parse_duration("5x")
    assert str(refused.value) == "“5x” is not a duration: write it like 90m, 1h30m or 3d6h."


@pytest.mark.parametrize("text", ["\u0661\u0662h", "\u0968h", "\uff11h", "1\u0660m"])
def test_only_ascii_digits_are_numbers(text: str) -> None:
    # `\d` and str.isdigit accept Arabic-Indic, Devanagari and full-width digits; the grammar does not.
    with pytest.raises(TimeError, match="digits 0 to 9"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["99999999999d", "9" * 5000 + "s", "1000000000m"])
def test_absurd_numbers_are_refused_before_any_arithmetic(text: str) -> None:
    with pytest.raises(TimeError, match="is too long: at most 365 days"):
        parse_duration(text)


def test_bounds_are_the_callers() -> None:
    assert parse_duration("30d", maximum=30 * DAY) == 30 * DAY
    with pytest.raises(TimeError, match="“31d” is too long: at most 30 days"):
        parse_duration("31d", maximum=30 * DAY)
    with pytest.raises(TimeError, match="“30d1s” is too long: at most 30 days"):
        parse_duration("30d1s", maximum=30 * DAY)
    with pytest.raises(TimeError, match="“30s” is too short: at least 1 minute"):
        parse_duration("30s", minimum=MINUTE)
    with pytest.raises(TimeError, match="“0d0h” is not longer than zero"):
        parse_duration("0d0h")
    with pytest.raises(TimeError, match="not longer than zero"):
        parse_duration("0")
    assert parse_duration("0", minimum=timedelta(0)) == timedelta(0)


def test_refusals_are_the_user_facing_error() -> None:
    # The bot answers every UserError with its message; pydantic validators take it as a ValueError.
    assert issubclass(TimeError, UserError) and issubclass(TimeError, ValueError)


def test_a_timedelta_is_held_to_the_same_bounds() -> None:
    assert check_duration(DAY, maximum=30 * DAY) == DAY
    with pytest.raises(TimeError, match="“31d” is too long: at most 30 days"):
        check_duration(31 * DAY, maximum=30 * DAY)
    with pytest.raises(TimeError, match="not longer than zero"):
        check_duration(-HOUR)


def test_modal_fields_are_read_through_the_grammar() -> None:
    assert duration_from_fields(days="1", hours="2", minutes="3") == DAY + 2 * HOUR + 3 * MINUTE
    assert duration_from_fields(hours=" 168 ", maximum=7 * DAY) == 7 * DAY
    assert duration_from_fields(hours="1", minutes="90") == 2 * HOUR + 30 * MINUTE
    for (days, hours, minutes), says in [
        (("", "", ""), "The wait is too short: at least 1 minute"),
        (("30", "", "1"), "The wait is too long: at most 30 days"),
        (("99999999999", "", ""), "The wait is too long: at most 30 days"),
        (("", "x", ""), "Hours must be a whole number written with the digits 0 to 9; you typed “x”"),
        (("", "-1", ""), "Hours must be a whole number"),
        (("", "", "1.5"), "Minutes must be a whole number"),
        (("\u0661", "", ""), "Days must be a whole number written with the digits 0 to 9"),
    ]:
        with pytest.raises(TimeError, match=says):
            duration_from_fields(days=days, hours=hours, minutes=minutes, maximum=30 * DAY)


# --- printing ---------------------------------------------------------------------------------


def test_the_compact_form_is_what_is_stored() -> None:
    assert format_duration(3 * DAY + 6 * HOUR + 30 * MINUTE + 10 * SECOND) == "3d6h30m10s"
    assert format_duration(90 * MINUTE) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (4 * HOUR + 30 * MINUTE, "4h 30m"),
        (2 * DAY + 3 * HOUR, "2d 3h"),
        (2 * DAY + 3 * HOUR + 4 * MINUTE + SECOND, "2d 3h 4m"),
        (44 * MINUTE + 30 * SECOND, "45m"),  # to the nearest minute
        (59 * MINUTE + 40 * SECOND, "1h"),
        (MINUTE, "1m"),
        (37 * SECOND, "less than a minute"),
        (timedelta(0), "less than a minute"),
    ],
)
def test_the_human_form(value: timedelta, shown: str) -> None:
    assert format_human(value) == shown


def test_time_left_is_never_a_minute_that_is_not_there() -> None:
    assert format_remaining(37 * SECOND) == "less than a minute"
    assert format_remaining(4 * HOUR) == "4h"
    assert format_remaining(timedelta(0)) == "due now"
    assert format_remaining(-3 * MINUTE) == "due now"


def test_moments_for_discord_and_for_operators() -> None:
    moment = datetime(2026, 3, 29, 18, 0, tzinfo=UTC)
    assert discord_time(moment) == f"<t:{int(moment.timestamp())}:F>"
    assert discord_time(moment, "R") == f"<t:{int(moment.timestamp())}:R>"
    assert when(moment) == "2026-03-29 18:00:00 UTC"


# --- absolute times ---------------------------------------------------------------------------


def test_an_iso_time_is_an_instant() -> None:
    assert parse_instant("2026-12-24T18:00Z") == datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    assert parse_instant("2026-12-24T18:00") == datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    assert parse_instant("2026-12-24 19:00+01:00") == datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    for bad in ("soon", "2026-13-01T00:00", "\uff12\uff10\uff12\uff16-01-01T00:00"):
        with pytest.raises(TimeError, match="is not a time: write it like 2026-12-24T18:00Z"):
            parse_instant(bad)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00", "9999-12-31T23:59Z", "1999-12-31T23:59Z"]
)
def test_years_no_one_means_are_refused_not_overflowed(text: str) -> None:
    with pytest.raises(TimeError, match="give a year from 2000 to 2100"):
        parse_instant(text)


def test_an_instant_needs_a_zone() -> None:
    with pytest.raises(TimeError, match="has no time zone"):
        check_instant(datetime(2026, 1, 1))
    assert check_instant(datetime(2026, 1, 1, 1, tzinfo=timezone(HOUR))) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("0001-01-01 00:00", "Europe/Paris"),
        ("0001-01-01 00:30", "Asia/Tokyo"),
        ("9999-12-31 23:59", "America/New_York"),
    ],
)
def test_a_wall_clock_date_far_out_of_range_is_refused(text: str, zone: str) -> None:
    with pytest.raises(TimeError, match="give a year from 2000 to 2100"):
        wall_clock(text, zone, datetime(2026, 10, 22, 12, 0, tzinfo=UTC))


def test_a_wall_clock_time_takes_ascii_digits_only() -> None:
    with pytest.raises(TimeError, match="is not a time"):
        wall_clock("\u0661\u0668:00", "Europe/Paris", datetime(2026, 10, 22, 12, 0, tzinfo=UTC))


def test_a_zone_name_that_is_no_zone() -> None:
    for name in ("Mars/Olympus", "", "../etc", "a" * 5000):
        with pytest.raises(TimeError, match="is not a time zone"):
            wall_clock("18:00", name, datetime(2026, 10, 22, 12, 0, tzinfo=UTC))


# --- parse_when: the one reading of a typed time ------------------------------------------------

FRIDAY_NOON = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Paris is on winter time until Sunday 02:00


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("90m", datetime(2026, 3, 27, 13, 30, tzinfo=UTC)),
        ("in 2h", datetime(2026, 3, 27, 14, 0, tzinfo=UTC)),
        ("20:00", datetime(2026, 3, 27, 19, 0, tzinfo=UTC)),
        ("Friday 20:00", datetime(2026, 3, 27, 19, 0, tzinfo=UTC)),
        ("friday 11:00", datetime(2026, 4, 3, 9, 0, tzinfo=UTC)),  # passed today: next week, summer time
        ("tomorrow 9:00", datetime(2026, 3, 28, 8, 0, tzinfo=UTC)),
        ("Sunday 9:00", datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),  # after the change: UTC+2
        ("2026-12-24 18:00", datetime(2026, 12, 24, 17, 0, tzinfo=UTC)),
        ("2026-12-24T18:00Z", datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
        ("2026-10-25 02:30+01:00", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        ("2026-10-25 02:30+02:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        # 12-hour times, as most hosts write them (before, each was "not a time").
        ("8pm", datetime(2026, 3, 27, 19, 0, tzinfo=UTC)),
        ("8 PM", datetime(2026, 3, 27, 19, 0, tzinfo=UTC)),
        ("tomorrow 9am", datetime(2026, 3, 28, 8, 0, tzinfo=UTC)),
        ("Friday 8:30pm", datetime(2026, 3, 27, 19, 30, tzinfo=UTC)),
        ("9:30 p.m.", datetime(2026, 3, 27, 20, 30, tzinfo=UTC)),
        ("12am", datetime(2026, 3, 27, 23, 0, tzinfo=UTC)),  # midnight, the next one
        ("12pm", datetime(2026, 3, 28, 11, 0, tzinfo=UTC)),  # noon: today's has passed
        ("2026-12-24 6pm", datetime(2026, 12, 24, 17, 0, tzinfo=UTC)),
    ],
)
def test_parse_when_reads_waits_and_local_times(typed: str, expected: datetime) -> None:
    assert times.parse_when(typed, "Europe/Paris", FRIDAY_NOON) == expected


def test_a_skipped_hour_is_refused_with_the_time_after_the_gap() -> None:
    with pytest.raises(times.TimeError, match=r"Paris has no 02:30 on 29 March .*did you mean 03:30\?"):
        times.parse_when("Sunday 2:30", "Europe/Paris", FRIDAY_NOON)


def test_a_repeated_hour_is_refused_naming_both_instants_and_how_to_choose() -> None:
    with pytest.raises(times.TimeError) as caught:
        times.parse_when("2026-10-25 02:30", "Europe/Paris", FRIDAY_NOON)
    message = str(caught.value)
    assert "twice on 25 October" in message
    assert "00:30 UTC" in message and "01:30 UTC" in message
    assert "02:30+02:00" in message and "02:30+01:00" in message


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Give a time"),
        ("soon", "is not a time"),
        ("25:00", "not a time of day"),
        ("2026-03-27 12:00", "has already passed"),
        ("2028-01-01 12:00", "too far away"),
        ("Funday 20:00", "not a day of the week"),
        ("9០m", "digits 0 to 9"),
        ("13pm", "12-hour times go from 12am to 11:59pm"),
        ("0am", "12-hour times go from 12am to 11:59pm"),
        ("9:75pm", "12-hour times go from 12am to 11:59pm"),
        ("9 amazing", "is not a duration"),  # not 9am
    ],
)
def test_parse_when_refuses_with_a_reason(typed: str, says: str) -> None:
    with pytest.raises(times.TimeError, match=says):
        times.parse_when(typed, "Europe/Paris", FRIDAY_NOON)


def test_zone_names_are_checked_with_suggestions() -> None:
    names = sorted(zoneinfo.available_timezones())
    assert times.check_zone("europe/paris", names) == "Europe/Paris"
    with pytest.raises(times.TimeError, match="Did you mean `Europe/Paris`"):
        times.check_zone("Paris", names)
    with pytest.raises(times.TimeError, match="`America/New_York`"):
        times.check_zone("Amercia/New_York", names)


@pytest.mark.parametrize(
    ("typed", "window"),
    [
        ("run anyway", None),
        ("Run  Anyway", None),
        ("skip after 1h", timedelta(hours=1)),
        ("skip after 1 h", timedelta(hours=1)),
        ("skip if more than 30m late", timedelta(minutes=30)),
        ("45m", timedelta(minutes=45)),
    ],
)
def test_a_late_policy_is_run_anyway_or_a_window(typed: str, window: timedelta | None) -> None:
    assert times.parse_if_late(typed) == window


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        (
            "soon",
            "“soon” is not a late policy: write `run anyway`, or `skip after` and a wait like 1h or 30m.",
        ),
        ("", "“” is not a late policy"),
        ("skip after banana", "“skip after banana” is not a late policy"),
        ("skip after 30s", "“30s” is too short: at least 1 minute."),
        ("skip after 2d", "“2d” is too long: at most 1 day."),
    ],
)
def test_a_late_policy_that_cannot_be_read_is_refused_in_words(typed: str, said: str) -> None:
    with pytest.raises(times.TimeError) as refused:
        times.parse_if_late(typed, maximum=timedelta(days=1))
    assert str(refused.value).startswith(said)


@pytest.mark.parametrize(
    ("twelve", "twenty_four"),
    [
        ("every day at 9am", "every day at 09:00"),
        ("every Friday 8pm", "every Friday 20:00"),
        ("every mon,wed 6:30 pm", "every mon,wed 18:30"),
        ("every month on the 15th at 9am", "every month on the 15th at 09:00"),
    ],
)
def test_a_repeat_reads_12_hour_times_too(twelve: str, twenty_four: str) -> None:
    assert times.parse_every(twelve) == times.parse_every(twenty_four)
