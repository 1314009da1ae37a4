"""The challenge chains facade: create (from a short form or JSON), status, skip, pause, resume,
add a round, cancel, list.

Everything a chain needs is checked here before it starts (action names and payloads, times in
the future, the number of rounds), so bad input starts nothing and gets one clear line back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from clients.arguments import DiscordId, refuses
from clients.calls import MAX_REQUEST_BYTES, Calls, Refusals
from clients.jobs import WORKFLOW_TASK_TIMEOUT, utcnow
from clients.jobs_listing import quote
from clients.names import NO_NAMES, Names
from workflows import search_attributes as sa
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import (
    CHALLENGES_WORKFLOW,
    ID_PREFIX,
    KEY_HELP,
    KEY_PATTERN,
    MAX_ROUNDS,
    AddRoundRequest,
    CancelChainRequest,
    ChainRequest,
    ChallengeInput,
    ChallengeSpec,
    ChallengeStatus,
    OnFailure,
    RoundAction,
    RoundSpec,
    ShiftChainRequest,
    SkipRequest,
    challenge_id_for,
    message_problem,
    plan_size_problem,
    reminder_problem,
    round_bytes,
    round_size_problem,
)
from workflows.common import UserError, first_error, visible
from workflows.jobs_actions import POST_MESSAGE, UnknownActionError, action_spec
from workflows.jobs_models import DEFAULT_TIME_ZONE, MAX_DELAY, Reminder
from workflows.times import TimeError, check_instant, parse_duration, parse_instant, parse_when


class ChallengeError(UserError):
    """A refusal; the message is fit to show the user."""


class ChallengeNotFound(ChallengeError):
    pass


def _chain_key(value: str) -> str:
    if not re.fullmatch(KEY_PATTERN, value):
        raise ValueError(KEY_HELP)
    return value


ChainKey = Annotated[str, AfterValidator(_chain_key)]


# Each call says which chain is missing (`over=`); this is the fallback.
REFUSALS = Refusals(
    refused=ChallengeError,
    over=lambda: ChallengeNotFound("there is no such chain in this server"),
    too_large=ChallengeError,
)


@dataclass(frozen=True)
class ChallengeSummary:
    challenge_id: str
    key: str
    title: str
    channel_id: int


def _wait(text: str) -> timedelta:
    """A round's wait or a reminder's offset (`0` is right away), refused as a ChallengeError."""
    try:
        return parse_duration(text, minimum=timedelta(0), maximum=MAX_DELAY)
    except TimeError as err:
        raise ChallengeError(str(err)) from None


@refuses(ChallengeError)
def parse_reminders(text: str) -> list[Reminder]:
    """`30m, 5m`: reminders before every round, by how long before it starts."""
    reminders = []
    for part in (p for p in re.split(r"[,\s]+", text.strip()) if p):
        offset = _wait(part)
        if offset <= timedelta(0):
            raise ChallengeError("a reminder comes some time before its round, not at 0")
        reminders.append(Reminder(offset=offset, message=part))
    return reminders


# A round's own channel, last in its line: `in #photos` (the bot resolves names) or `in <#123>`.
_CHANNEL = re.compile(r"#\S+|<#[0-9]+>")
_MENTION = re.compile(r"<#([0-9]{1,20})>")
CHANNEL_HELP = "name a round's channel last, like `2h Round 1 in #photos`"


@refuses(ChallengeError)
def channel_mention(text: str) -> int:
    """A channel mention (`<#123>`) as its id; the bot resolves `#name` itself."""
    found = _MENTION.fullmatch(text)
    if found is None:
        raise ChallengeError(f"{text[:40]} is not a channel I know: {CHANNEL_HELP}")
    return int(found[1])


@refuses(ChallengeError)
def parse_rounds(
    text: str,
    reminders: Sequence[Reminder] = (),
    channel: Callable[[str], int] = channel_mention,
    *,
    zone: str = DEFAULT_TIME_ZONE,
    now: datetime | None = None,
) -> list[RoundSpec]:
    """The short form, one round a line: `<wait> <name>[ in #channel][ | <message>]` or
    `at <time> <name>[ in #channel]`, the time as any typed time reads (`20:00`,
    `Friday 20:00`, `in 2h`: `times.parse_when` in `zone`) or an ISO time with its offset.

    `2h Round 1 | Show us your best photo!` starts 2 hours after the previous round (the first:
    after the chain starts) and posts the message, or "Round 1 starts now!" without one.
    `channel` turns a `#name` or `<#id>` into the channel's id (the bot checks it is postable).
    """
    rounds = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ChallengeError("write at least one round, one a line, like `2h Round 1`")
    if len(lines) > MAX_ROUNDS:
        raise ChallengeError(f"a chain has at most {MAX_ROUNDS} rounds, not {len(lines)}")
    for number, line in enumerate(lines, start=1):
        head, _, message = line.partition("|")
        words = head.split()
        try:
            place: dict[str, int] = {}
            if len(words) >= 4 and words[-2].lower() == "in" and _CHANNEL.fullmatch(words[-1]):
                place, words = {"channel_id": channel(words[-1])}, words[:-2]
            if words and words[0].lower() == "at" and len(words) >= 3:
                at, name = _round_time(words[1:], zone, now or utcnow())
                start: dict[str, Any] = {"at": at}
            elif len(words) >= 2:
                start = {"after": _wait(words[0])}
                name = " ".join(words[1:])
            else:
                raise ChallengeError("write a wait and a name, like `2h Round 1`")
            content = visible(message.strip() or f"🏁 **{name}** starts now!", "the message", ChallengeError)
            rounds.append(
                RoundSpec(
                    name=name,
                    reminders=list(reminders),
                    actions=[RoundAction(action=POST_MESSAGE, payload={"content": content})],
                    **start,
                    **place,
                )
            )
        except UserError as err:  # ours, or a time the grammar refused
            raise ChallengeError(f"line {number} ({line[:40]!r}): {err}") from None
        except ValidationError as err:
            raise ChallengeError(f"line {number} ({line[:40]!r}): {first_error(err)}") from None
    return rounds


def _iso(typed: str) -> bool:
    return typed[:4].isdigit() and "t" in typed.lower()[8:11]


@refuses(ChallengeError)
def needs_zone(text: str) -> bool:
    """Whether some `at` line of the short form gives a local time (read in the member's zone)."""
    for line in text.splitlines():
        words = line.partition("|")[0].split()
        if len(words) >= 3 and words[0].lower() == "at" and not _iso(words[1]):
            return True
    return False


def _round_time(words: Sequence[str], zone: str, now: datetime) -> tuple[datetime, str]:
    """The time that starts `words` (one to three of them) and the round's name after it.

    An ISO time is read as before, its range checked with the whole plan."""
    if _iso(words[0]):
        return parse_instant(words[0]), " ".join(words[1:])
    refusal: TimeError | None = None
    for count in (3, 2, 1):
        if len(words) <= count:
            continue  # a name must follow
        typed = " ".join(words[:count])
        try:
            return parse_when(typed, zone, now), " ".join(words[count:])
        except TimeError as err:
            # The longest reading that ends in digits is what was meant (`Friday 25:00`).
            if refusal is None and (count == 1 or any(c.isdigit() for c in words[count - 1])):
                refusal = err
    assert refusal is not None
    raise refusal


@refuses(ChallengeError)
def rounds_from_json(data: bytes) -> tuple[list[RoundSpec], dict[str, Any]]:
    """A JSON plan: `{"title": ..., "on_failure": ..., "rounds": [RoundSpec, ...]}` or a bare list.

    Returns the rounds and the other top-level fields.
    """
    if len(data) > MAX_REQUEST_BYTES:
        raise ChallengeError(f"the file is {len(data):,} bytes; a plan may be at most {MAX_REQUEST_BYTES:,}")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ChallengeError(f"the file is not JSON: {err}") from None
    except RecursionError:
        raise ChallengeError("the file nests its lists or objects too deeply to be a plan") from None
    if isinstance(document, list):
        document = {"rounds": document}
    if not isinstance(document, dict) or not isinstance(document.get("rounds"), list):
        raise ChallengeError('the file must be a list of rounds or an object with "rounds": [...]')
    raw = document.pop("rounds")
    if not raw:
        raise ChallengeError("the plan has no rounds")
    if len(raw) > MAX_ROUNDS:
        raise ChallengeError(f"a chain has at most {MAX_ROUNDS} rounds, not {len(raw)}")
    rounds = []
    for number, item in enumerate(raw, start=1):
        try:
            rounds.append(RoundSpec.model_validate(item))
        except ValidationError as err:
            raise ChallengeError(f"round {number}: {first_error(err)}") from None
    return rounds, document


class Challenges:
    def __init__(self, client: Client, task_queue: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._client = client
        self._task_queue = task_queue
        self._clock = clock
        self._calls = Calls(client, REFUSALS)

    @refuses(ChallengeError)
    async def create(
        self,
        *,
        key: str,
        title: str,
        guild_id: DiscordId,
        channel_id: DiscordId,
        host_id: DiscordId,
        rounds: Sequence[RoundSpec],
        on_failure: OnFailure = "continue",
        rounds_per_run: int | None = None,
        names: Names = NO_NAMES,
    ) -> str:
        """Start a chain; returns its id. Refuses bad input before anything is started. `names`:
        the channel's and host's names, for the Web UI only."""
        spec = self.validate(
            key=key,
            title=title,
            guild_id=guild_id,
            channel_id=channel_id,
            host_id=host_id,
            rounds=rounds,
            on_failure=on_failure,
            rounds_per_run=rounds_per_run,
        )
        challenge_id = challenge_id_for(guild_id, key)
        await self._calls.check_size(ChallengeInput(spec=spec))  # past the server's limit: never starts
        try:
            await self._client.start_workflow(
                ChallengeChainWorkflow.run,
                ChallengeInput(spec=spec),
                id=challenge_id,
                task_queue=self._task_queue,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.GUILD_ID, str(guild_id)),
                        SearchAttributePair(sa.CHANNEL_ID, str(channel_id)),
                        names.title(f"Challenge {title}"),
                    ]
                ),
                memo={"title": title, "key": key},
                static_summary=f"challenge {key}: {len(spec.rounds)} rounds in {names.where(channel_id)}",
                static_details=f"created by {names.who(host_id)}; a failed round makes it {on_failure}",
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                task_timeout=WORKFLOW_TASK_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            raise ChallengeError(f"a chain with key {key!r} is already running in this server") from None
        return challenge_id

    @refuses(ChallengeError)
    def validate(
        self, *, rounds: Sequence[RoundSpec], rounds_per_run: int | None, **fields: Any
    ) -> ChallengeSpec:
        if not isinstance(key := fields.get("key"), str) or not re.fullmatch(KEY_PATTERN, key):
            raise ChallengeError(f"“{str(key)[:40]}” cannot be a chain's key: {KEY_HELP}")
        if not 1 <= len(title := str(fields.get("title", ""))) <= 100:
            raise ChallengeError(f"a chain's title has 1 to 100 characters, not {len(title)}")
        # Texts are checked here, not in the models: started chains must decode as they were.
        visible(title, "the chain's title", ChallengeError)
        if not rounds:
            raise ChallengeError("a chain needs at least one round")
        if len(rounds) > MAX_ROUNDS:
            raise ChallengeError(f"a chain has at most {MAX_ROUNDS} rounds, not {len(rounds)}")
        now = self._clock()
        for number, round_ in enumerate(rounds, start=1):
            self._check_round(round_, now, f"round {number} ({round_.name})")
        if (problem := plan_size_problem(sum(round_bytes(r) for r in rounds))) is not None:
            raise ChallengeError(problem)
        extra = {} if rounds_per_run is None else {"rounds_per_run": rounds_per_run}
        try:
            return ChallengeSpec(rounds=list(rounds), **fields, **extra)
        except ValidationError as err:
            raise ChallengeError(first_error(err)) from None

    def _check_round(self, round_: RoundSpec, now: datetime, where: str) -> None:
        visible(round_.name, f"{where}: the round's name", ChallengeError)
        for reminder in round_.reminders:
            visible(reminder.message, f"{where}: the reminder's message", ChallengeError)
        if (problem := round_size_problem(round_)) is not None:
            raise ChallengeError(f"{where}: {problem}")
        if round_.at is not None:
            try:
                at = check_instant(round_.at)  # a year that can be meant, before any arithmetic
            except TimeError as err:
                raise ChallengeError(f"{where}: {err}") from None
            if at <= now:
                raise ChallengeError(f"{where} is at {at:%Y-%m-%d %H:%M} UTC, which is in the past")
            if at - now > MAX_DELAY:
                raise ChallengeError(f"{where} is more than {MAX_DELAY.days} days away")
        if (problem := reminder_problem(round_, now) or message_problem(round_)) is not None:
            raise ChallengeError(f"{where}: {problem}")
        for step in round_.actions:
            try:
                spec = action_spec(step.action)
            except UnknownActionError as err:
                raise ChallengeError(f"{where}: {err}") from None
            if spec.reminder:
                raise ChallengeError(f"{where}: {step.action} is a reminder action, not a round action")
            if spec.payload is not None:
                try:
                    spec.payload.model_validate(step.payload)
                except ValidationError as err:
                    raise ChallengeError(
                        f"{where}: bad payload for {step.action}: {first_error(err)}"
                    ) from None

    @refuses(ChallengeError)
    async def status(self, guild_id: DiscordId, key: ChainKey) -> ChallengeStatus:
        handle = self._client.get_workflow_handle_for(
            ChallengeChainWorkflow.run, challenge_id_for(guild_id, key)
        )
        missing = f"there is no chain {key!r} in this server"
        return await self._calls.query(
            handle, ChallengeChainWorkflow.status, over=lambda: ChallengeNotFound(missing)
        )

    @refuses(ChallengeError)
    async def skip(
        self,
        guild_id: DiscordId,
        key: ChainKey,
        *,
        by: DiscordId,
        as_host: bool = False,
        round: int | None = None,
    ) -> ChallengeStatus:
        """Skip round `round` (an index, as `ChallengeStatus.current`), refused with what became of
        it if it is no longer current; None: the current round."""
        if round is not None and round < 0:
            raise ChallengeError(f"there is no round {round + 1}")
        request = SkipRequest(by=by, guild_id=guild_id, as_host=as_host, round=round)
        return await self._update(guild_id, key, ChallengeChainWorkflow.skip, request)

    @refuses(ChallengeError)
    async def pause(
        self, guild_id: DiscordId, key: ChainKey, *, by: DiscordId, as_host: bool = False
    ) -> ChallengeStatus:
        request = ChainRequest(by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(guild_id, key, ChallengeChainWorkflow.pause, request)

    @refuses(ChallengeError)
    async def resume(
        self, guild_id: DiscordId, key: ChainKey, *, by: DiscordId, as_host: bool = False
    ) -> ChallengeStatus:
        request = ChainRequest(by=by, guild_id=guild_id, as_host=as_host)
        return await self._update(guild_id, key, ChallengeChainWorkflow.resume, request)

    @refuses(ChallengeError)
    async def cancel(
        self, guild_id: DiscordId, key: ChainKey, *, by: DiscordId, as_host: bool = False, reason: str = ""
    ) -> ChallengeStatus:
        request = CancelChainRequest(by=by, guild_id=guild_id, as_host=as_host, reason=reason)
        return await self._update(guild_id, key, ChallengeChainWorkflow.cancel, request)

    @refuses(ChallengeError)
    async def add_round(
        self, guild_id: DiscordId, key: ChainKey, round_: RoundSpec, *, by: DiscordId, as_host: bool = False
    ) -> ChallengeStatus:
        self._check_round(round_, self._clock(), f"round {round_.name}")
        request = AddRoundRequest(by=by, guild_id=guild_id, as_host=as_host, round=round_)
        return await self._update(guild_id, key, ChallengeChainWorkflow.add_round, request)

    @refuses(ChallengeError)
    async def shift(
        self,
        guild_id: DiscordId,
        key: ChainKey,
        delta: timedelta,
        *,
        by: DiscordId,
        whole: bool,
        as_host: bool = False,
        round: int | None = None,
    ) -> ChallengeStatus:
        """Move round `round` (None: the current one) by `delta`; `whole`: every later round too."""
        request = ShiftChainRequest(
            by=by, guild_id=guild_id, as_host=as_host, delta=delta, whole=whole, round=round
        )
        return await self._update(guild_id, key, ChallengeChainWorkflow.shift, request)

    async def _update(self, guild_id: int, key: str, update: Any, request: Any) -> ChallengeStatus:
        handle = self._client.get_workflow_handle_for(
            ChallengeChainWorkflow.run, challenge_id_for(guild_id, key)
        )
        missing = f"there is no running chain {key!r} in this server"
        result: ChallengeStatus = await self._calls.update(
            handle, update, request, over=lambda: ChallengeNotFound(missing)
        )
        return result

    @refuses(ChallengeError)
    async def running(self, guild_id: DiscordId) -> list[ChallengeSummary]:
        """The guild's running chains, from one visibility query."""
        query = (
            f"WorkflowType = {quote(CHALLENGES_WORKFLOW)} AND ExecutionStatus = 'Running' "
            f"AND {sa.GUILD_ID.name} = {quote(str(guild_id))}"
        )
        found = []
        async for execution in self._client.list_workflows(query):
            if execution.status != WorkflowExecutionStatus.RUNNING:
                continue
            memo = await execution.memo()
            found.append(
                ChallengeSummary(
                    challenge_id=execution.id,
                    key=str(memo.get("key") or execution.id.removeprefix(f"{ID_PREFIX}{guild_id}-")),
                    title=str(memo.get("title", "")),
                    channel_id=int(execution.typed_search_attributes.get(sa.CHANNEL_ID) or 0),
                )
            )
        return sorted(found, key=lambda c: c.key)
