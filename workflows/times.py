"""The one time grammar: durations as people type them (`90m`, `1h30m`, `3d6h30m10s`, `in 2h`),
their two printed forms, Discord timestamps written by workflows, the moments operators read in
the Web UI, and absolute times a host types (an ISO time, or a wall-clock time in a named zone).

Deterministic and pure (whoever needs "now" passes it in), so workflows, activities, clients and
the bot all use it. Every refusal is a `TimeError`: a `UserError` whose message is written for the
person who typed the text. Numbers are ASCII digits only and are bounded before any arithmetic,
so no input can raise `OverflowError`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflows.common import UserError

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
# The grammar's own ceiling (no feature schedules more than a year ahead); features pass tighter ones.
LONGEST = timedelta(days=365)
DURATION_HELP = "write it like 90m, 1h30m or 3d6h"
# Significant digits a number may have: enough for a year in seconds (31,536,000), and few
# enough that the arithmetic below stays small whatever is typed.
MAX_DIGITS = 9

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
# `[0-9]`, not `\d`: `\d` and `str.isdigit` also accept Arabic-Indic and other digits.
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_NUMBER = re.compile(r"[0-9]+")
_LEADING_IN = re.compile(r"^in\s+")
_SPACES = re.compile(r"\s+")


class TimeError(UserError):
    """A duration or time that cannot be used; the message says why, for the person who typed it."""


# --- durations --------------------------------------------------------------------------------


def parse_duration(text: str, *, minimum: timedelta = SECOND, maximum: timedelta = LONGEST) -> timedelta:
    """`90m`, `1h30m`, `3d6h30m10s`, `in 2h` (case and spaces do not matter; `0` is zero) ->
    timedelta within [minimum, maximum]; `TimeError` with the reason otherwise."""
    return _parse(text, f"“{_clip(text)}”", minimum, maximum)


def duration_from_fields(
    *,
    days: str = "",
    hours: str = "",
    minutes: str = "",
    minimum: timedelta = MINUTE,
    maximum: timedelta = LONGEST,
    what: str = "The wait",
) -> timedelta:
    """Days, hours and minutes typed into a modal's fields (blank is 0), read as one duration."""
    parts = []
    for typed, unit, label in ((days, "d", "Days"), (hours, "h", "Hours"), (minutes, "m", "Minutes")):
        value = typed.strip() or "0"
        if not _NUMBER.fullmatch(value):
            raise TimeError(
                f"{label} must be a whole number written with the digits 0 to 9; you typed “{_clip(value)}”."
            )
        parts.append(value + unit)
    return _parse("".join(parts), what, minimum, maximum)


def check_duration(
    value: timedelta, *, minimum: timedelta = SECOND, maximum: timedelta = LONGEST, what: str | None = None
) -> timedelta:
    """A duration given as a timedelta (a model field, a client's argument), held to the same bounds."""
    shown = what or (f"“{format_duration(value)}”" if value > timedelta(0) else "A duration")
    if value > maximum:
        raise TimeError(f"{shown} is too long: at most {_spelled(maximum)}.")
    if value < minimum:
        raise TimeError(_too_short(shown, minimum))
    return value


def _parse(text: str, shown: str, minimum: timedelta, maximum: timedelta) -> timedelta:
    cleaned = _SPACES.sub("", _LEADING_IN.sub("", text.strip().lower()))
    if cleaned == "0":
        return check_duration(timedelta(0), minimum=minimum, maximum=maximum, what=shown)
    found = _DURATION.fullmatch(cleaned)  # linear: no nested repetition
    if found is None or not any(found.groups()):
        if any(char.isdigit() and not char.isascii() for char in cleaned):
            raise TimeError(f"{shown} is not a duration: write its numbers with the digits 0 to 9, like 90m.")
        raise TimeError(f"{shown} is not a duration: {DURATION_HELP}.")
    numbers = [(group or "0").lstrip("0") for group in found.groups()]
    if any(len(number) > MAX_DIGITS for number in numbers):  # before int(): no arithmetic on it
        raise TimeError(f"{shown} is too long: at most {_spelled(maximum)}.")
    seconds = sum(int(number or "0") * size for number, (_, size) in zip(numbers, _UNITS, strict=True))
    if seconds > maximum.total_seconds():
        raise TimeError(f"{shown} is too long: at most {_spelled(maximum)}.")
    return check_duration(timedelta(seconds=seconds), minimum=minimum, maximum=maximum, what=shown)


# A host's late policy for their own post (`/schedule post if_late:`).
IF_LATE_HELP = "write `run anyway`, or `skip after` and a wait like 1h or 30m"
_RUN_ANYWAY = ("run anyway", "anyway", "always")
_SKIP_AFTER = re.compile(r"^(?:skip\s+)?(?:(?:if\s+)?(?:more\s+than|after|over)\s+)?(.+?)(?:\s+late)?$")


def parse_if_late(text: str, *, maximum: timedelta = LONGEST) -> timedelta | None:
    """`run anyway` -> None (post it however late); `skip after 1h`, `skip after 30m`, `1h`
    -> how late it may be posted before it is skipped (at least a minute: within a minute it
    is on time). `TimeError` with the way to write it otherwise."""
    cleaned = _SPACES.sub(" ", text.strip().lower())
    if cleaned in _RUN_ANYWAY:
        return None
    found = _SKIP_AFTER.fullmatch(cleaned)
    if not cleaned or found is None:
        raise TimeError(f"“{_clip(text)}” is not a late policy: {IF_LATE_HELP}.")
    try:
        return _parse(found[1], f"“{_clip(found[1])}”", MINUTE, maximum)
    except TimeError:
        if _DURATION.fullmatch(_SPACES.sub("", found[1])) is None:
            raise TimeError(f"“{_clip(text)}” is not a late policy: {IF_LATE_HELP}.") from None
        raise


def _too_short(shown: str, minimum: timedelta) -> str:
    if minimum <= SECOND:
        return f"{shown} is not longer than zero."
    return f"{shown} is too short: at least {_spelled(minimum)}."


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 20 else text[:19] + "…"


def format_duration(value: timedelta) -> str:
    """The compact form, `3d6h30m10s` (the inverse of parse_duration): for storage and JSON."""
    total = int(value.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_human(value: timedelta) -> str:
    """For people: "4h 30m", "2d 3h", to the nearest minute; "less than a minute" below one."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return "less than a minute"
    minutes = (seconds + 30) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(f"{count}{unit}" for count, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if count)


def format_remaining(left: timedelta) -> str:
    """Time left before a deadline: "2d 3h 5m", "less than a minute", or "due now" once it has come."""
    return "due now" if left <= timedelta(0) else format_human(left)


def _spelled(value: timedelta) -> str:
    """A limit in words: "30 days", "1 minute", "1 day 6 hours"."""
    total = int(value.total_seconds())
    names = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in names:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


# --- moments ----------------------------------------------------------------------------------


def discord_time(moment: datetime, style: str = "F") -> str:
    """A Discord timestamp written by a workflow (which cannot import discord; activities and the
    bot use `discord.utils.format_dt`): every reader sees the instant in their own time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def when(moment: datetime) -> str:
    """A moment as operators read it in the Web UI's details."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- absolute times a user types ---------------------------------------------------------------

# Years a typed date may name: far wider than anything can be scheduled, and far enough from
# year 1 and 9999 that converting between zones never leaves the calendar.
MIN_YEAR, MAX_YEAR = 2000, 2100
INSTANT_HELP = "write it like 2026-12-24T18:00Z"


def check_instant(moment: datetime) -> datetime:
    """An aware moment a user gave, in UTC, if its year is one that can be meant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TimeError(f"{moment.isoformat()} has no time zone: {INSTANT_HELP}.")
    _check_year(moment.date())
    return moment.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO time (`2026-12-24T18:00Z`, `2026-12-24 18:00+01:00`; UTC when no offset is given)."""
    cleaned = text.strip()
    try:
        if not cleaned.isascii():
            raise ValueError(cleaned)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise TimeError(f"“{_clip(text)}” is not a time: {INSTANT_HELP}.") from None
    return check_instant(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _check_year(day: date) -> None:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise TimeError(
            f"{day.isoformat()} is not a date that can be scheduled: "
            f"give a year from {MIN_YEAR} to {MAX_YEAR}."
        )


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WALL = re.compile(
    r"(?:(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})|(?P<day>[a-z]+))?\s*(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})",
    re.IGNORECASE,
)
WALL_HELP = "write it like `Friday 18:00`, `2026-03-29 18:00` or `18:00`"


def zone(name: str) -> ZoneInfo:
    """A named time zone, like Europe/Paris."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeError(
            f"“{_clip(name)}” is not a time zone: use a name like Europe/Paris or America/New_York."
        ) from None


def wall_clock(text: str, zone_name: str, now: datetime) -> datetime:
    """A host's local time ("Friday 18:00" in Europe/Paris) as an absolute UTC instant.

    Computed on the local calendar, then converted: a daylight-saving change between now and
    then never moves the deadline by an hour. A weekday or a bare time means the next one."""
    tz = zone(zone_name)
    found = _WALL.fullmatch(text.strip())
    if found is None:
        raise TimeError(f"“{_clip(text)}” is not a time: {WALL_HELP}, in the zone you name.")
    hour, minute = int(found["hour"]), int(found["minute"])
    if hour > 23 or minute > 59:
        raise TimeError(f"“{_clip(text)}” is not a time of day.")
    local_now = now.astimezone(tz)
    if found["date"]:
        try:
            day = datetime.strptime(found["date"], "%Y-%m-%d").date()
        except ValueError:
            raise TimeError(f"{found['date']} is not a date.") from None
        _check_year(day)
        candidates = [day]
    else:
        today = local_now.date()
        if found["day"]:
            name = found["day"].lower()
            matching = [
                n for n, weekday in enumerate(WEEKDAYS) if weekday.startswith(name) and len(name) >= 3
            ]
            if len(matching) != 1:
                raise TimeError(f"“{_clip(found['day'])}” is not a day of the week: {WALL_HELP}.")
            ahead = (matching[0] - today.weekday()) % 7
            candidates = [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)]
        else:
            candidates = [today, today + timedelta(days=1)]
    for day in candidates:
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
        instant = local.astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
            raise TimeError(
                f"{hour:02d}:{minute:02d} does not exist on {day} in {tz.key} (the clocks move forward)."
            )
        if instant > now:
            return instant
    raise TimeError(f"{text.strip()} in {tz.key} has already passed.")


# --- what a user types for "when" ---------------------------------------------------------------

WHEN_HELP = (
    "write a wait like `90m` or `in 2h`, or a time like `20:00`, `8pm`, `Friday 20:00`, "
    "`tomorrow 9am` or `2026-12-24 18:00`"
)
# A 12-hour time as people write it: `9pm`, `9 pm`, `9:30 p.m.`; 12am is midnight, 12pm noon.
_TWELVE_HOUR = re.compile(r"(?<![0-9:])([0-9]{1,2})(?::([0-9]{2}))?\s*([ap])\.?m\b\.?", re.IGNORECASE)


def _in_24_hours(text: str) -> str:
    """`Friday 8:30pm` -> `Friday 20:30`: each 12-hour time in `text` as the 24-hour one."""

    def converted(found: re.Match[str]) -> str:
        hour, minute = int(found[1]), int(found[2] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            raise TimeError(
                f"“{_clip(found[0])}” is not a time of day: 12-hour times go from 12am to 11:59pm."
            )
        return f"{hour % 12 + (12 if found[3].lower() == 'p' else 0):02d}:{minute:02d}"

    return _TWELVE_HOUR.sub(converted, text)


_WHEN = re.compile(
    r"(?:(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})|(?P<day>[a-z]+))?\s*"
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})\s*(?P<offset>[+-][0-9]{2}:[0-9]{2}|z)?",
    re.IGNORECASE,
)
_FOLD_HELP = "add the offset you mean, like `{time}+02:00` or `{time}+01:00`"


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _place(tz: ZoneInfo) -> str:
    """Europe/Paris -> Paris, for sentences ("Paris has no 02:30 on 29 March")."""
    return tz.key.rsplit("/", 1)[-1].replace("_", " ")


def local_instant(day: date, hour: int, minute: int, tz: ZoneInfo, offset: str | None = None) -> datetime:
    """A wall-clock time on a local date as a UTC instant, never silently moved: a time the
    clocks skip is refused with the first time after the gap; a time they repeat is refused
    unless `offset` ("+01:00") says which of the two is meant."""
    naive = datetime(day.year, day.month, day.day, hour, minute)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    shown = f"{hour:02d}:{minute:02d}"
    on = f"{day.day} {day:%B}"
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        # In the gap: fold=0 reads it with the offset before the change, so going through UTC
        # lands after the gap, on the wall-clock time that instant really has.
        after = first.astimezone(UTC).astimezone(tz)
        raise TimeError(
            f"{_place(tz)} has no {shown} on {on} (the clocks move forward); did you mean {after:%H:%M}?"
        )
    if first.utcoffset() == second.utcoffset():
        if offset is not None and offset != _offset_text(first):
            raise TimeError(f"{shown} on {on} in {tz.key} is at {_offset_text(first)}, not {offset}.")
        return first.astimezone(UTC)
    if offset is not None:
        for candidate in (first, second):
            if _offset_text(candidate) == offset:
                return candidate.astimezone(UTC)
        raise TimeError(
            f"{shown} on {on} in {tz.key} is at {_offset_text(first)} "
            f"or {_offset_text(second)}, not {offset}."
        )
    raise TimeError(
        f"{_place(tz)} has {shown} twice on {on} (the clocks move back): at "
        f"{first.astimezone(UTC):%H:%M} UTC and at {second.astimezone(UTC):%H:%M} UTC; "
        + _FOLD_HELP.format(time=shown)
        .replace("+02:00", _offset_text(first))
        .replace("+01:00", _offset_text(second))
        + "."
    )


def parse_when(
    text: str, zone_name: str, now: datetime, *, maximum: timedelta = LONGEST, minimum: timedelta = SECOND
) -> datetime:
    """The one reading of a time a user types, as a UTC instant after `now`:
    a wait (`90m`, `in 2h`, `1h30m`), or a time in the zone `zone_name` (`20:00`, `Friday 20:00`,
    `tomorrow 9:00`, `8pm`, `2026-12-24 18:00`, optionally with an offset for a repeated hour:
    `01:30+01:00`), or an ISO time with its offset (`2026-12-24T18:00Z`).

    A bare time or a weekday means the next one; local times are computed on the local calendar
    then converted, so a daylight-saving change between now and then never moves them."""
    tz = zone(zone_name)
    cleaned = _SPACES.sub(" ", text.strip())
    if not cleaned:
        raise TimeError(f"Give a time: {WHEN_HELP}.")
    if not cleaned.isascii():
        raise TimeError(f"“{_clip(text)}” is not a time: {WHEN_HELP}, with the digits 0 to 9.")
    cleaned = _in_24_hours(cleaned)
    lowered = cleaned.lower()
    # A wait: starts with a digit and has a unit letter and no colon, or starts with "in ".
    if lowered.startswith("in ") or (lowered[:1].isdigit() and ":" not in lowered and "-" not in lowered):
        wait = _parse(lowered, f"“{_clip(text)}”", minimum, maximum)
        return now.astimezone(UTC) + wait
    if "t" in lowered[8:11] and lowered[:4].isdigit():
        moment = parse_instant(cleaned)
    else:
        moment = _local_when(cleaned, tz, now)
    return _in_range(moment, now, text, minimum, maximum)


def _in_range(moment: datetime, now: datetime, text: str, minimum: timedelta, maximum: timedelta) -> datetime:
    if moment <= now:
        raise TimeError(f"{discord_time(moment)} (“{_clip(text)}”) has already passed.")
    if moment - now > maximum:
        raise TimeError(f"“{_clip(text)}” is too far away: at most {_spelled(maximum)} from now.")
    if moment - now < minimum:
        raise TimeError(_too_short(f"The wait until “{_clip(text)}”", minimum))
    return moment


def _local_when(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    found = _WHEN.fullmatch(text)
    if found is None:
        raise TimeError(f"“{_clip(text)}” is not a time: {WHEN_HELP}.")
    hour, minute = int(found["hour"]), int(found["minute"])
    if hour > 23 or minute > 59:
        raise TimeError(f"“{_clip(text)}” is not a time of day: hours go to 23 and minutes to 59.")
    offset = found["offset"]
    if offset is not None and offset.lower() == "z":
        offset = "+00:00"
    today = now.astimezone(tz).date()
    if found["date"]:
        try:
            day = datetime.strptime(found["date"], "%Y-%m-%d").date()
        except ValueError:
            raise TimeError(f"{found['date']} is not a date.") from None
        _check_year(day)
        return local_instant(day, hour, minute, tz, offset)
    word = (found["day"] or "").lower()
    if word in ("today", "tomorrow"):
        day = today + timedelta(days=1 if word == "tomorrow" else 0)
        return local_instant(day, hour, minute, tz, offset)
    if word:
        matching = [n for n, weekday in enumerate(WEEKDAYS) if weekday.startswith(word) and len(word) >= 3]
        if len(matching) != 1:
            raise TimeError(f"“{_clip(found['day'])}” is not a day of the week: {WHEN_HELP}.")
        ahead = (matching[0] - today.weekday()) % 7
        candidates = [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)]
    else:
        candidates = [today, today + timedelta(days=1)]
    for day in candidates:
        instant = local_instant(day, hour, minute, tz, offset)
        if instant > now:
            return instant
    raise TimeError(f"“{_clip(text)}” in {tz.key} has already passed.")  # pragma: no cover


# --- time zones ---------------------------------------------------------------------------------


def suggest_zones(typed: str, names: list[str], count: int = 3) -> list[str]:
    """The zone names closest to what was typed (`paris` -> Europe/Paris), for a refusal."""
    wanted = typed.strip().replace(" ", "_").lower()
    by_lower = {name.lower(): name for name in names}
    ends = [name for low, name in by_lower.items() if low.rsplit("/", 1)[-1] == wanted]
    close = difflib.get_close_matches(wanted, list(by_lower), n=count, cutoff=0.6)
    tails = {low.rsplit("/", 1)[-1]: name for low, name in by_lower.items()}
    close_tails = [tails[t] for t in difflib.get_close_matches(wanted, list(tails), n=count, cutoff=0.7)]
    found: list[str] = []
    for name in [*ends, *(by_lower[c] for c in close), *close_tails]:
        if name not in found:
            found.append(name)
    return found[:count]


def check_zone(name: str, names: list[str]) -> str:
    """An IANA zone name as the user may mean it (`europe/paris` -> Europe/Paris); `TimeError`
    with the closest names otherwise. `names`: the zones known (zoneinfo.available_timezones())."""
    typed = name.strip()
    by_lower = {known.lower(): known for known in names}
    exact = by_lower.get(typed.replace(" ", "_").lower())
    if exact is not None:
        return exact
    near = suggest_zones(typed, names)
    hint = f" Did you mean {', '.join(f'`{n}`' for n in near)}?" if near else ""
    raise TimeError(
        f"“{_clip(typed)}” is not a time zone: use a name like Europe/Paris or America/New_York.{hint}"
    )


# --- repeats -----------------------------------------------------------------------------------

EVERY_HELP = (
    "write it like `every day at 09:00`, `every Friday 8pm`, `every mon,wed 18:00`, "
    "`every month on the 15th at 09:00` or `every 6h`"
)
_EVERY_AT = re.compile(r"(?:at\s+)?([0-9]{1,2}):([0-9]{2})")
_MONTHLY = re.compile(r"month\s+(?:on\s+)?(?:the\s+)?([0-9]{1,2})(?:st|nd|rd|th)?\s+(.+)")
# The shortest repeat: one a minute (a post every few seconds is spam, and tests use triggers).
SHORTEST_REPEAT = timedelta(minutes=1)


@dataclass(frozen=True)
class Every:
    """A repeat as typed: at a wall-clock time on some days (`weekdays`, Monday 0; or one
    `day_of_month`), or every `interval`. What clients/repeats.py turns into a Temporal spec."""

    interval: timedelta | None = None
    weekdays: tuple[int, ...] = ()
    day_of_month: int | None = None
    hour: int = 0
    minute: int = 0

    def describe(self) -> str:
        if self.interval is not None:
            return f"every {format_human(self.interval)}"
        at = f"{self.hour:02d}:{self.minute:02d}"
        if self.day_of_month is not None:
            return f"every month on day {self.day_of_month} at {at}"
        if len(self.weekdays) == 7:
            return f"every day at {at}"
        days = ", ".join(WEEKDAYS[d].capitalize() for d in self.weekdays)
        return f"every {days} at {at}"


def parse_every(text: str, *, shortest: timedelta = SHORTEST_REPEAT) -> Every:
    """`every day at 09:00`, `every Friday 20:00` (or `8pm`), `every mon,wed 18:00`, `every weekday 9:00`,
    `every month on the 15th at 09:00`, `every 6h` -> Every; TimeError saying what is allowed."""
    cleaned = _SPACES.sub(" ", text.strip().lower())
    if not cleaned.isascii():
        raise TimeError(f"“{_clip(text)}” is not a repeat: {EVERY_HELP}.")
    cleaned = _in_24_hours(cleaned)
    rest = cleaned.removeprefix("every ").strip()
    if rest[:1].isdigit() and ":" not in rest:
        return Every(interval=_parse(rest, f"“{_clip(text)}”", shortest, LONGEST))
    monthly = _MONTHLY.fullmatch(rest)
    if monthly:
        day = int(monthly[1])
        if not 1 <= day <= 28:
            raise TimeError("A monthly repeat falls on day 1 to 28, which every month has.")
        hour, minute = _every_time(monthly[2], text)
        return Every(day_of_month=day, hour=hour, minute=minute)
    days_text, _, time_text = rest.rpartition(" ")
    if _EVERY_AT.fullmatch(time_text) and days_text.endswith(" at"):
        days_text = days_text.removesuffix(" at")
    hour, minute = _every_time(time_text, text)
    days_text = days_text.strip() or "day"
    if days_text in ("day", "daily"):
        return Every(weekdays=tuple(range(7)), hour=hour, minute=minute)
    if days_text in ("weekday", "weekdays"):
        return Every(weekdays=tuple(range(5)), hour=hour, minute=minute)
    weekdays: list[int] = []
    for word in re.split(r"\s*(?:,|\band\b)\s*", days_text):
        matching = [n for n, name in enumerate(WEEKDAYS) if len(word) >= 3 and name.startswith(word.strip())]
        if len(matching) != 1:
            raise TimeError(f"“{_clip(word)}” is not a day of the week: {EVERY_HELP}.")
        weekdays.append(matching[0])
    return Every(weekdays=tuple(sorted(set(weekdays))), hour=hour, minute=minute)


def _every_time(text: str, typed: str) -> tuple[int, int]:
    found = _EVERY_AT.fullmatch(text.strip())
    if found is None:
        raise TimeError(f"“{_clip(typed)}” is not a repeat: {EVERY_HELP}.")
    hour, minute = int(found[1]), int(found[2])
    if hour > 23 or minute > 59:
        raise TimeError(f"“{_clip(typed)}” has no time of day: hours go to 23 and minutes to 59.")
    return hour, minute
