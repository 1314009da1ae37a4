"""EPYC's `ScheduledJob` rows, brought over.

EPYC keeps its timers as rows of its `ScheduledJob` table: `jobId`, `fireDate`, `jobType`,
`jobData` (JSON, often as a string), `status` (`SCHEDULED` until it ran). The import reads a JSON
document: either a list of those rows, or an object of tables by name, which lets it do more:

    {"ScheduledJob": [...], "Season": [...], "SeasonConfig": [...], "Player": [...],
     "PlayersOnSeasons": [...], "Game": [...], "Turn": [...]}

(from PostgreSQL: `SELECT json_agg(t) FROM "ScheduledJob" t WHERE status = 'SCHEDULED'`, and
the same for each table). What each pending row becomes:

- `season-activation-<season>`: with the season's `Season`, `SeasonConfig` and `Player` rows, a
  season here, open for joining until the row's `fireDate`, with the season's rules, its creator
  as host and its players joined again. Without them, a plain scheduled job that posts a notice
  at that moment in the channel given to the import.
- `turn-claim-timeout-`, `turn-submission-timeout-`, `turn-timeout-<turn>`: a game in progress
  cannot continue here (the rows hold no game to carry on, and a season here starts its own), so
  each becomes a plain scheduled job that posts a notice when the turn's time runs out, in the
  season's channel; a `turn-warning-<turn>` row becomes that job's reminder.

Rows whose `status` is not `SCHEDULED` already ran, failed or were cancelled there: skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator
from temporalio.client import WorkflowExecutionStatus

from adoption.jobs import SLACK, JobPlan, bring_job, origin_key
from adoption.report import Entry, Report, load_json
from adoption.target import Target
from clients.jobs import SchedulingError, snowflake
from clients.seasons import SeasonError
from clients.store import PersistentStore, StoreError
from workflows.common import UserError, first_error
from workflows.jobs_actions import POST_MESSAGE, SEND_REMINDER
from workflows.jobs_models import Reminder
from workflows.seasons_models import RulesOverride, SeasonRules, season_id_for
from workflows.times import format_human, when

FILE = "ScheduledJob rows"
JOB_KEY_PREFIX = "epyc:"
SEASON_ACTIVATION = "season-activation"
TIMEOUTS = {
    "turn-claim-timeout": "claim",
    "turn-submission-timeout": "submission",
    "turn-timeout": "turn",
}
WARNING = "turn-warning"
# An overdue season opens for this long, so its players can be joined again before it starts.
OVERDUE_OPEN = timedelta(minutes=1)
MAX_OPEN = timedelta(days=60)
# Seasons carry no id derived from EPYC's (one season per server, `season-<guild>`): what was
# imported is noted in the server's adoption store, under `epyc:<jobId>`.
LEDGER_PREFIX = "adoption-"

CONFIG_FIELDS = {
    "claimTimeout": "claim_timeout",
    "claimWarning": "claim_warning",
    "writingTimeout": "writing_timeout",
    "writingWarning": "writing_warning",
    "drawingTimeout": "drawing_timeout",
    "drawingWarning": "drawing_warning",
    "openDuration": "open_duration",
    "minPlayers": "min_players",
    "maxPlayers": "max_players",
}


def _moment(value: object) -> object:
    """A Prisma or PostgreSQL timestamp (ISO text, UTC when it names no zone) or Unix ms."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError):
            raise ValueError(f"{value} is not a time in milliseconds") from None
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ScheduledJobRow(Row):
    jobId: str = Field(min_length=1, max_length=200)
    fireDate: datetime
    jobType: str = "generic"
    jobData: JsonValue = None
    status: str = "SCHEDULED"

    @field_validator("fireDate", mode="before")
    @classmethod
    def _fire_date(cls, value: object) -> object:
        return _moment(value)

    def data(self) -> dict[str, Any]:
        """jobData as an object: EPYC stores it as a JSON string inside a JSON column."""
        value = self.jobData
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return {}
        return value if isinstance(value, dict) else {}

    def target_id(self) -> str:
        """The season or turn the job is about: its id with the type's prefix taken off."""
        for prefix in (SEASON_ACTIVATION, *TIMEOUTS, WARNING):
            if self.jobId.startswith(prefix + "-"):
                return self.jobId[len(prefix) + 1 :]
        return ""


class SeasonRow(Row):
    id: str
    status: str = ""
    configId: str | None = None
    creatorId: str | None = None
    guildId: str | None = None
    channelId: str | None = None


class SeasonConfigRow(Row):
    id: str
    turnPattern: str | None = None
    claimTimeout: str | None = None
    claimWarning: str | None = None
    writingTimeout: str | None = None
    writingWarning: str | None = None
    drawingTimeout: str | None = None
    drawingWarning: str | None = None
    openDuration: str | None = None
    minPlayers: int | None = None
    maxPlayers: int | None = None

    def overrides(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            ours: getattr(self, theirs) for theirs, ours in CONFIG_FIELDS.items() if getattr(self, theirs)
        }
        if self.turnPattern:
            found["turn_pattern"] = [kind.strip().lower() for kind in self.turnPattern.split(",")]
        return found


class PlayerRow(Row):
    id: str
    discordUserId: str


class MembershipRow(Row):
    playerId: str
    seasonId: str


class GameRow(Row):
    id: str
    seasonId: str | None = None
    guildId: str | None = None


class TurnRow(Row):
    id: str
    gameId: str
    type: str = ""


@dataclass
class Tables:
    """The other tables' rows an EPYC export may hold, by id."""

    seasons: dict[str, SeasonRow] = field(default_factory=dict)
    configs: dict[str, SeasonConfigRow] = field(default_factory=dict)
    players: dict[str, PlayerRow] = field(default_factory=dict)
    members: list[MembershipRow] = field(default_factory=list)
    games: dict[str, GameRow] = field(default_factory=dict)
    turns: dict[str, TurnRow] = field(default_factory=dict)

    def discord_id(self, player_id: object) -> int | None:
        player = self.players.get(str(player_id))
        if player is None:
            return None
        try:
            return snowflake(player.discordUserId, "discordUserId")
        except SchedulingError:
            return None

    def season_of_turn(self, turn_id: str) -> tuple[SeasonRow | None, GameRow | None]:
        turn = self.turns.get(turn_id)
        game = self.games.get(turn.gameId) if turn else None
        season = self.seasons.get(game.seasonId) if game and game.seasonId else None
        return season, game


@dataclass(frozen=True)
class Fallback:
    """Where a row goes when its own tables do not say: the operator's --guild, --channel, --by."""

    guild_id: int | None = None
    channel_id: int | None = None
    by: int | None = None


def _rows(report: Report, document: Mapping[str, Any], name: str, model: type[Row]) -> list[Any]:
    rows = document.get(name) or []
    if not isinstance(rows, list):
        report.refused(f"table {name}", "its rows", "a table is a list of rows")
        return []
    found = []
    for position, raw in enumerate(rows, start=1):
        try:
            found.append(model.model_validate(raw))
        except ValidationError as err:
            report.refused(f"{name} row {position}", "a row", f"not an EPYC {name} row: {first_error(err)}")
    return found


def read_tables(report: Report, document: Mapping[str, Any]) -> Tables:
    tables = Tables()
    tables.seasons = {r.id: r for r in _rows(report, document, "Season", SeasonRow)}
    tables.configs = {r.id: r for r in _rows(report, document, "SeasonConfig", SeasonConfigRow)}
    tables.players = {r.id: r for r in _rows(report, document, "Player", PlayerRow)}
    tables.members = _rows(report, document, "PlayersOnSeasons", MembershipRow)
    tables.games = {r.id: r for r in _rows(report, document, "Game", GameRow)}
    tables.turns = {r.id: r for r in _rows(report, document, "Turn", TurnRow)}
    return tables


async def import_rows(
    target: Target, data: bytes, fallback: Fallback = Fallback(), name: str = FILE
) -> Report:
    """Every pending row of the document brought over (see the module docstring)."""
    report = Report(dry_run=target.dry_run)
    document = load_json(data, name, report)
    if document is None:
        return report
    if isinstance(document, list):
        document = {"ScheduledJob": document}
    if not isinstance(document, dict) or not isinstance(document.get("ScheduledJob"), list):
        report.refused(name, "the file", 'give a list of ScheduledJob rows, or {"ScheduledJob": [...], ...}')
        return report
    tables = read_tables(report, document)
    # One report per row, joined in the rows' order at the end: a warning is reported with the
    # timeout it becomes a reminder of, which may come later in the table.
    parts: list[Report] = []
    rows: list[tuple[str, ScheduledJobRow, Report]] = []
    for position, raw in enumerate(document["ScheduledJob"], start=1):
        part = Report(dry_run=target.dry_run)
        parts.append(part)
        where = f"ScheduledJob row {position}"
        if isinstance(raw, dict) and isinstance(raw.get("jobId"), str):
            where += f" ({raw['jobId'][:60]})"
        try:
            row = ScheduledJobRow.model_validate(raw)
        except ValidationError as err:
            part.refused(where, "a row", f"not an EPYC ScheduledJob row: {first_error(err)}")
            continue
        if row.status != "SCHEDULED":
            part.skipped(where, f"{row.jobType} job", f"its status there is {row.status}: it is not pending")
            continue
        rows.append((where, row, part))
    warnings = {row.target_id(): (where, row, part) for where, row, part in rows if row.jobType == WARNING}
    for where, row, part in rows:
        try:
            if row.jobType == SEASON_ACTIVATION:
                await _season(target, part, where, row, tables, fallback)
            elif row.jobType in TIMEOUTS:
                found = warnings.get(row.target_id())
                warning = found[1] if found and found[1].fireDate < row.fireDate else None
                await _timeout(target, part, where, row, tables, fallback, warning)
                if found and warning:
                    del warnings[row.target_id()]
                    first = part.entries[-1]
                    why = f"kept as a reminder of {row.jobId}" if first.outcome == "created" else first.why
                    found[2].entries.append(Entry(first.outcome, found[0], "a turn warning", why))
            elif row.jobType != WARNING:
                part.refused(
                    where, f"{row.jobType} job", f"there is nothing like EPYC's {row.jobType!r} here"
                )
        except UserError as err:  # an id that is not a Discord id, rules this bot refuses
            part.refused(where, f"{row.jobType} job", str(err))
    for where, _, part in warnings.values():
        part.skipped(where, "a turn warning", "no pending timeout of this turn to warn before")
    for part in parts:
        report.extend(part)
    return report


# --- season activation ------------------------------------------------------------------------


async def _season(
    target: Target, report: Report, where: str, row: ScheduledJobRow, tables: Tables, fallback: Fallback
) -> None:
    season = tables.seasons.get(row.target_id())
    if season is None or season.guildId is None or season.channelId is None:
        why = "the export holds no Season row for it" if season is None else "its season names no channel"
        await _notice(
            target,
            report,
            where,
            row,
            fallback,
            guild_id=fallback.guild_id,
            channel_id=fallback.channel_id,
            content="⏰ The season's joining window closes now. It was opened on the previous bot and "
            "does not carry over: a host can open one here with `/season create`.",
            description="Season joining closes (carried over)",
            note=f"a plain job, not a season: {why}",
        )
        return
    if season.status not in ("SETUP", "PENDING", "OPEN", ""):
        report.skipped(where, "a season", f"the season is {season.status} there: nothing is left to activate")
        return
    guild_id = snowflake(season.guildId, "guildId")
    channel_id = snowflake(season.channelId, "channelId")
    what = f"season of server {guild_id} in channel {channel_id}, open until {when(row.fireDate)}"
    if fallback.guild_id is not None and guild_id != fallback.guild_id:
        report.skipped(where, what, f"it belongs to server {guild_id}, not {fallback.guild_id}")
        return
    ledger = f"{JOB_KEY_PREFIX}{row.jobId}"
    if await _imported(target, guild_id, ledger):
        report.skipped(where, what, "already imported")
        return
    host = tables.discord_id(season.creatorId) or fallback.by
    if host is None:
        report.refused(where, what, "the export names no Player for its creator: give --by")
        return
    config = tables.configs.get(season.configId or "")
    overrides = config.overrides() if config else {}
    try:
        SeasonRules().with_overrides(RulesOverride.model_validate(overrides))
    except ValidationError as err:
        report.refused(where, what, f"its rules do not fit here: {first_error(err)}")
        return
    players = [
        player
        for member in tables.members
        if member.seasonId == season.id and (player := tables.discord_id(member.playerId)) is not None
    ]
    now = target.now()
    open_until, notes = row.fireDate, [f"{len(players)} players joined again"]
    if open_until <= now + SLACK:
        open_until = now + OVERDUE_OPEN
        notes.insert(
            0, f"overdue by {format_human(now - row.fireDate)}: it starts at once, {when(open_until)}"
        )
    if open_until - now > MAX_OPEN:
        report.refused(where, what, "it closes for joining more than 60 days from now")
        return
    if await _season_running(target, guild_id):
        report.refused(where, what, "a season is already running in this server")
        return
    if not target.dry_run:
        try:
            await target.seasons.create(
                guild_id=guild_id,
                channel_id=channel_id,
                host_id=host,
                overrides=overrides,
                open_until=open_until,
                now=now,
            )
        except SeasonError as err:
            report.refused(where, what, str(err))
            return
        ledger_store = await PersistentStore.create(target.client, _ledger_name(guild_id), target.task_queue)
        await ledger_store.set(ledger, season_id_for(guild_id))
        for player in players:
            try:
                await target.seasons.join(guild_id, player)
            except SeasonError as err:
                notes.append(f"player {player} could not join again: {err}")
    report.created(where, what, "; ".join(notes))


def _ledger_name(guild_id: int) -> str:
    return f"{LEDGER_PREFIX}{guild_id}"


async def _imported(target: Target, guild_id: int, key: str) -> bool:
    """Whether the server's adoption store notes `key` (read without starting the store)."""
    try:
        return await PersistentStore.attach(target.client, _ledger_name(guild_id), target.task_queue).has(key)
    except StoreError:
        return False  # no ledger yet: nothing of this server was imported


async def _season_running(target: Target, guild_id: int) -> bool:
    if not await target.exists(season_id_for(guild_id)):
        return False
    description = await target.client.get_workflow_handle(season_id_for(guild_id)).describe()
    return description.status == WorkflowExecutionStatus.RUNNING


# --- turn timeouts ----------------------------------------------------------------------------


async def _timeout(
    target: Target,
    report: Report,
    where: str,
    row: ScheduledJobRow,
    tables: Tables,
    fallback: Fallback,
    warning: ScheduledJobRow | None,
) -> None:
    turn_id = row.target_id()
    season, game = tables.season_of_turn(turn_id)
    guild = season.guildId if season and season.guildId else game.guildId if game else None
    channel = season.channelId if season else None
    turn = tables.turns.get(turn_id)
    kind = turn.type.lower() if turn and turn.type else ""
    who = tables.discord_id(row.data().get("playerId"))
    phase = {"claim": "time to claim", "submission": "time to hand in", "turn": "time"}[TIMEOUTS[row.jobType]]
    whose = f"<@{who}>'s" if who else "a player's"
    content = (
        f"⏰ Time is up: {whose} {phase} {f'their {kind} turn' if kind else 'their turn'} has run out. "
        "That game was in progress on the previous bot and does not continue here; a host can end "
        "the season and start a new one with `/season create`."
    )
    reminders: list[Reminder] = []
    if warning is not None:
        offset = row.fireDate - warning.fireDate
        reminders.append(Reminder(offset=offset, message=format_human(offset)))
    await _notice(
        target,
        report,
        where,
        row,
        fallback,
        guild_id=snowflake(guild, "guildId") if guild else fallback.guild_id,
        channel_id=snowflake(channel, "channelId") if channel else fallback.channel_id,
        content=content,
        description=f"Turn {TIMEOUTS[row.jobType]} time runs out (carried over)",
        note="a plain job that posts a notice: games in progress do not move to this bot"
        + (f"; its warning kept as a reminder {reminders[0].message} before" if reminders else ""),
        reminders=reminders,
        scheduled_by=tables.discord_id(season.creatorId) if season else None,
    )


async def _notice(
    target: Target,
    report: Report,
    where: str,
    row: ScheduledJobRow,
    fallback: Fallback,
    *,
    guild_id: int | None,
    channel_id: int | None,
    content: str,
    description: str,
    note: str,
    reminders: list[Reminder] | None = None,
    scheduled_by: int | None = None,
) -> None:
    """A plain scheduled job posting `content` at the row's moment."""
    if guild_id is None or channel_id is None:
        report.refused(
            where,
            f"{row.jobType} job due {when(row.fireDate)}",
            "the export says nothing of its server and channel: give --guild and --channel",
        )
        return
    if fallback.guild_id is not None and guild_id != fallback.guild_id:
        report.skipped(
            where, f"{row.jobType} job", f"it belongs to server {guild_id}, not {fallback.guild_id}"
        )
        return
    plan = JobPlan(
        key=origin_key(JOB_KEY_PREFIX, row.jobId),
        action=POST_MESSAGE,
        payload={"content": content},
        guild_id=guild_id,
        channel_id=channel_id,
        scheduled_by=scheduled_by or fallback.by,
        deadline=row.fireDate,
        reminders=reminders or [],
        reminder_action=SEND_REMINDER,
        description=description,
    )
    await bring_job(target, report, where, plan, note)
