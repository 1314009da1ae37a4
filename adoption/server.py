"""One server's data as one versioned JSON document, and its import into the same or another
server.

The document (`ServerExport`, its JSON schema from `schema()`) holds the server's settings,
default season rules, custom actions, running challenge chains (the rounds still to come) and
waiting scheduled jobs. It never holds a whisper (their text never leaves the server), nor what
cannot move: a running season's games, the Safari game's players and balances, the health check.

Importing into the same server finds everything already there and changes nothing. Importing
into another server remaps ids: the server's own, its custom actions' (derived from the
originals', so a second import finds them), and the channels and roles the document names,
which the operator maps (`--map <old id>=<new id>`): an entry naming an unmapped channel or role
of the other server is refused, with the id to map. Jobs and chains keep their keys, so a second
import starts nothing; times keep their meaning as in every import (adoption/jobs.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, ValidationError

from adoption.jobs import JobPlan, bring_job, digest
from adoption.report import Report, load_json
from adoption.target import Target
from clients.challenges import ChallengeError
from clients.seasons import SeasonError
from clients.store import VersionConflict
from workflows.challenges_models import ChallengeInput, OnFailure, RoundSpec, challenge_id_for
from workflows.common import Snowflake, UserError, first_error
from workflows.custom_actions_models import (
    EXECUTE_CUSTOM_ACTION,
    ActionDefinition,
    action_key,
    job_key_prefix,
)
from workflows.jobs_models import JobSpec, Reminder, job_suffix
from workflows.seasons_models import SEASON_RULES, RulesOverride
from workflows.store_models import HOST_ROLE
from workflows.times import when

FORMAT: Final = "server-export"
VERSION: Final = 1
LEFT_OUT = [
    "whispers: their text never leaves the server",
    "a running season: its games cannot move; its rules are the server's defaults",
    "the Safari game: its players, balances and rounds",
    "the health check: an admin starts it again with /health start",
]


class ExportedJob(BaseModel):
    """A waiting scheduled job: everything it was scheduled with, at its current deadline."""

    key: str = Field(description="the guild-local part of the job's id; kept, so the job's id is found again")
    action: str
    payload: dict[str, JsonValue]
    channel_id: Snowflake
    deadline: AwareDatetime
    reminders: list[Reminder] = Field(default_factory=list)
    reminder_action: str = "send_reminder"
    description: str = ""
    scheduled_by: Snowflake


class ExportedChain(BaseModel):
    """A running challenge chain: the rounds still to come, the first at its moment."""

    key: str
    title: str
    channel_id: Snowflake
    host_id: Snowflake
    on_failure: OnFailure = "continue"
    rounds: list[RoundSpec]


class ServerExport(BaseModel):
    model_config = ConfigDict(title="Server export")

    format: Literal["server-export"] = FORMAT
    version: Literal[1] = VERSION
    guild_id: Snowflake
    exported_at: AwareDatetime
    settings: dict[str, JsonValue] = Field(
        default_factory=dict, description="the server's settings (the host role, the whisper switch, ...)"
    )
    season_defaults: RulesOverride | None = None
    custom_actions: list[ActionDefinition] = Field(default_factory=list)
    chains: list[ExportedChain] = Field(default_factory=list)
    jobs: list[ExportedJob] = Field(default_factory=list)
    left_out: list[str] = Field(default_factory=list, description="what an export never holds, and why")


def schema() -> dict[str, Any]:
    """The JSON schema of the document as written (ids as strings, durations as text)."""
    return ServerExport.model_json_schema(mode="serialization")


def to_json(document: ServerExport) -> str:
    return document.model_dump_json(indent=2) + "\n"


# --- export ---------------------------------------------------------------------------------------


async def export_server(target: Target, guild_id: int) -> ServerExport:
    """The server's document (reads only: describes, visibility lists and queries)."""
    settings = dict(await target.settings.read(guild_id))
    rules = settings.pop(SEASON_RULES, None)
    left_out = list(LEFT_OUT)
    actions = sorted(await target.actions_here(guild_id), key=lambda d: (d.name.lower(), d.id))
    chains = []
    for running in await target.challenges.running(guild_id):
        status = await target.challenges.status(guild_id, running.key)
        if status.state == "paused":
            left_out.append(f"the paused chain {running.key!r}: resume it before exporting")
            continue
        spec = (await target.started_input(running.challenge_id, ChallengeInput)).spec
        rounds = spec.rounds[status.current :]
        current = next((view for view in status.rounds if view.index == status.current), None)
        if not rounds or current is None or current.due is None:
            continue  # between its last round and its end
        first = rounds[0].model_copy(update={"at": current.due, "after": None})
        chains.append(
            ExportedChain(
                key=spec.key,
                title=spec.title,
                channel_id=spec.channel_id,
                host_id=spec.host_id,
                on_failure=spec.on_failure,
                rounds=[first, *rounds[1:]],
            )
        )
    jobs = []
    for summary in await target.jobs.get_jobs(guild_id):
        job = await target.started_input(summary.job_id, JobSpec)
        jobs.append(
            ExportedJob(
                key=job_suffix(summary.job_id, guild_id),
                action=job.action,
                payload=job.payload,
                channel_id=job.channel_id,
                deadline=summary.deadline,
                reminders=job.reminders,
                reminder_action=job.reminder_action,
                description=job.description,
                scheduled_by=job.scheduled_by,
            )
        )
    return ServerExport(
        guild_id=guild_id,
        exported_at=target.now(),
        settings=settings,
        season_defaults=RulesOverride.stored(rules) if isinstance(rules, dict) else None,
        custom_actions=actions,
        chains=sorted(chains, key=lambda c: c.key),
        jobs=sorted(jobs, key=lambda j: (j.deadline, j.key)),
        left_out=left_out,
    )


# --- import ---------------------------------------------------------------------------------------


class Remap:
    """Ids of the document's server as ids of the target server."""

    def __init__(self, source: int, target: int, ids: Mapping[int, int]) -> None:
        self.source, self.target = source, target
        self.same = source == target
        self.ids = dict(ids)
        self.actions: dict[str, str] = {}

    def discord(self, old: int, what: str) -> int:
        """A channel or role of the document's server here; UserError when it is not mapped."""
        if self.same:
            return old
        if old in self.ids:
            return self.ids[old]
        raise UserError(f"{what} {old} belongs to the other server: map it with --map {old}=<id here>")

    def action(self, old: str) -> str:
        if self.same:
            return old
        return self.actions.setdefault(old, "a" + digest(f"{self.source}:{old}:{self.target}", 10))

    def key(self, key: str) -> str:
        """A job key, its custom action's id (if it names one) remapped."""
        for old in self.actions:
            prefix = job_key_prefix(old)
            if key.startswith(prefix):
                return job_key_prefix(self.action(old)) + key[len(prefix) :]
        return key

    def payload(self, action: str, payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """A payload naming the server, a channel or a custom action (the custom action runs')."""
        if action != EXECUTE_CUSTOM_ACTION:
            return payload
        changed = dict(payload)
        changed["guild_id"] = str(self.target)
        changed["channel_id"] = str(self.discord(int(str(payload["channel_id"])), "channel"))
        changed["action_id"] = self.action(str(payload["action_id"]))
        return changed


async def import_server(
    target: Target, data: bytes, *, guild_id: int, ids: Mapping[int, int] | None = None, name: str = "export"
) -> Report:
    """The document `data` into server `guild_id` (see the module docstring)."""
    report = Report(dry_run=target.dry_run)
    raw = load_json(data, name, report)
    if raw is None:
        return report
    if isinstance(raw, dict) and (raw.get("format") != FORMAT or raw.get("version") != VERSION):
        found = f"{raw.get('format')!r} version {raw.get('version')!r}"
        report.refused(name, "the file", f"this reads {FORMAT!r} version {VERSION}, not {found}")
        return report
    try:
        document = ServerExport.model_validate(raw)
    except ValidationError as err:
        report.refused(name, "the file", f"not a server export: {first_error(err)}")
        return report
    remap = Remap(document.guild_id, guild_id, ids or {})
    for action in document.custom_actions:
        remap.action(action.id)
    await _settings(target, report, document, remap)
    await _season_defaults(target, report, document, remap)
    # The custom actions that are (or, in a dry run, would be) here: a job runs one of them.
    present = {action.id for action in await target.actions_here(guild_id)}
    for position, action in enumerate(document.custom_actions, start=1):
        where = f"custom action {position} ({action.id})"
        try:
            if await _action(target, report, where, action, remap):
                present.add(remap.action(action.id))
        except UserError as err:
            report.refused(where, f"custom action {action.name!r}", str(err))
    for position, chain in enumerate(document.chains, start=1):
        where = f"chain {position} ({chain.key})"
        try:
            await _chain(target, report, where, chain, remap)
        except UserError as err:
            report.refused(where, f"chain {chain.title!r}", str(err))
    for position, job in enumerate(document.jobs, start=1):
        where = f"job {position} ({job.key})"
        try:
            plan = JobPlan(
                key=remap.key(job.key),
                action=job.action,
                payload=remap.payload(job.action, job.payload),
                guild_id=guild_id,
                channel_id=remap.discord(job.channel_id, "channel"),
                scheduled_by=job.scheduled_by,
                deadline=job.deadline,
                reminders=job.reminders,
                reminder_action=job.reminder_action,
                description=job.description,
            )
        except UserError as err:
            report.refused(where, f"{job.description or job.action} due {when(job.deadline)}", str(err))
            continue
        if job.action == EXECUTE_CUSTOM_ACTION and plan.payload.get("action_id") not in present:
            report.refused(where, plan.summary(), "its custom action is not here (see above)")
            continue
        await bring_job(target, report, where, plan)
    return report


async def _settings(target: Target, report: Report, document: ServerExport, remap: Remap) -> None:
    current = await target.settings.read(remap.target)
    for key, value in sorted(document.settings.items()):
        where, what = f"setting {key}", f"setting {key}"
        if key == HOST_ROLE and isinstance(value, str) and value.isdigit():
            try:
                value = str(remap.discord(int(value), "role"))
            except UserError as err:
                report.refused(where, what, str(err))
                continue
        if current.get(key) == value:
            report.skipped(where, what, "already so here")
            continue
        if not target.dry_run:
            await target.settings.write(remap.target, key, value)
        report.created(where, what)


async def _season_defaults(target: Target, report: Report, document: ServerExport, remap: Remap) -> None:
    wanted = (
        document.season_defaults.model_dump(mode="json", exclude_none=True)
        if document.season_defaults
        else {}
    )
    current = (await target.settings.read(remap.target)).get(SEASON_RULES) or {}
    if not wanted and not current:
        return
    where, what = "season defaults", "the server's default season rules"
    if wanted == current:
        report.skipped(where, what, "already so here")
        return
    if not target.dry_run:
        changes = {field: wanted.get(field) for field in RulesOverride.model_fields}
        try:
            await target.seasons.set_guild_rules(remap.target, changes)
        except SeasonError as err:
            report.refused(where, what, str(err))
            return
    report.created(where, what)


async def _action(target: Target, report: Report, where: str, action: ActionDefinition, remap: Remap) -> bool:
    """Bring one custom action over; whether it is (or would be) here afterwards."""
    changes: dict[str, Any] = {"id": remap.action(action.id)}
    note = ""
    if action.condition is not None and action.condition.role_id is not None:
        role = remap.discord(action.condition.role_id, "role")
        changes["condition"] = action.condition.model_copy(update={"role_id": role})
    if action.trigger.channel_id is not None:
        try:
            channel = remap.discord(action.trigger.channel_id, "channel")
        except UserError:
            channel, note = None, "its last scheduling channel is not mapped: the editor asks again"
        changes["trigger"] = action.trigger.model_copy(update={"channel_id": channel})
    moved = action.model_copy(update=changes)
    what = f"custom action {moved.name!r} ({moved.id})"
    if any(here.id == moved.id for here in await target.actions_here(remap.target)):
        report.skipped(where, what, "already here")
        return True
    if not target.dry_run:
        store = await target.custom_actions.store(remap.target)
        try:
            await store.compare_and_set(action_key(moved.id), 0, moved.model_dump(mode="json"))
        except VersionConflict:
            report.skipped(where, what, "already here")
            return True
    report.created(where, what, note)
    return True


async def _chain(target: Target, report: Report, where: str, chain: ExportedChain, remap: Remap) -> None:
    channel = remap.discord(chain.channel_id, "channel")
    chain_id = challenge_id_for(remap.target, chain.key)
    what = f"chain {chain.title!r} of {len(chain.rounds)} rounds in channel {channel} ({chain_id})"
    if await target.exists(chain_id):
        report.skipped(where, what, "already imported: a chain with this id exists here")
        return
    rounds, note = [], ""
    for number, round_ in enumerate(chain.rounds):
        actions = [
            step.model_copy(update={"payload": remap.payload(step.action, step.payload)})
            for step in round_.actions
        ]
        round_ = round_.model_copy(update={"actions": actions})
        if round_.channel_id is not None:  # a round posting in a channel of its own
            round_ = round_.model_copy(update={"channel_id": remap.discord(round_.channel_id, "channel")})
        if number == 0 and round_.at is not None and round_.at <= target.now():
            late = target.now() - round_.at
            round_ = round_.model_copy(update={"at": None, "after": timedelta(0)})
            note = f"its current round is overdue by {int(late.total_seconds())} s: it runs at once"
        if number == 0:  # the current round's reminders already due were sent where it ran before
            due = [
                r for r in round_.reminders if round_.at is not None and round_.at - r.offset >= target.now()
            ]
            round_ = round_.model_copy(update={"reminders": due})
        rounds.append(round_)
    if target.dry_run:
        target.challenges.validate(
            key=chain.key,
            title=chain.title,
            guild_id=remap.target,
            channel_id=channel,
            host_id=chain.host_id,
            rounds=rounds,
            on_failure=chain.on_failure,
            rounds_per_run=None,
        )
    else:
        try:
            await target.challenges.create(
                key=chain.key,
                title=chain.title,
                guild_id=remap.target,
                channel_id=channel,
                host_id=chain.host_id,
                rounds=rounds,
                on_failure=chain.on_failure,
            )
        except ChallengeError as err:
            report.refused(where, what, str(err))
            return
    report.created(where, what, note)


def parse_ids(pairs: list[str]) -> dict[int, int]:
    """`--map OLD=NEW` pairs as ids; ValueError naming a pair that is not two Discord ids."""
    found = {}
    for pair in pairs:
        old, _, new = pair.partition("=")
        if not (old.strip().isdigit() and new.strip().isdigit()):
            raise ValueError(f"--map takes <old id>=<new id>, not {pair!r}")
        found[int(old)] = int(new)
    return found
