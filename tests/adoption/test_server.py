"""A server's export and import on the real dev server (its visibility store lists the jobs and
chains): export a server, import it into an empty one, export that: the same document but for
ids. Importing into the same server changes nothing; a dry run starts nothing; the document
follows its published schema."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from temporalio.client import Client

from adoption.server import ServerExport, export_server, import_server, schema, to_json
from adoption.target import Target
from clients.challenges import parse_reminders, parse_rounds
from clients.jobs import utcnow
from tests.support.adoption import import_worker
from tests.support.temporal import eventually
from tests.support.whispers import recording
from workflows.challenges_models import ChallengeInput, challenge_id_for
from workflows.custom_actions_models import Condition, TextOutcome, Trigger
from workflows.jobs_models import Reminder
from workflows.store_models import HOST_ROLE
from workflows.whispers_models import WHISPERS_ENABLED

pytestmark = pytest.mark.asyncio(loop_scope="module")
HOST = 930000000000000099


@pytest_asyncio.fixture(loop_scope="module")
async def target(client: Client) -> AsyncIterator[Target]:
    queue = f"adoption-{uuid.uuid4().hex[:8]}"
    async with import_worker(client, queue, None):
        yield Target(client, queue)


def snowflakes(count: int) -> list[int]:
    """Fresh ids, so the module's tests never share a server on the shared dev server."""
    return [random.randrange(10**17, 10**18) for _ in range(count)]


async def populate(t: Target, guild: int, channel: int, role: int) -> None:
    await t.settings.write(guild, HOST_ROLE, str(role))
    await t.settings.write(guild, WHISPERS_ENABLED, False)
    await t.seasons.set_guild_rules(guild, {"claim_timeout": "2d", "min_players": 3})
    treasure = await t.custom_actions.create(guild, "Treasure Hunt", by=HOST)
    treasure = await t.custom_actions.edit(
        guild,
        treasure.id,
        lambda d: d.model_copy(
            update={
                "condition": Condition(role_id=role, not_met_text="Members only"),
                "outcomes": [TextOutcome(text="You found gold")],
                "trigger": Trigger(type="schedule", channel_id=channel),
            }
        ),
    )
    await t.custom_actions.create(guild, "Ghost Walk", by=HOST)
    await t.custom_actions.schedule(
        treasure, guild_id=guild, channel_id=channel, by=HOST, delay=timedelta(hours=5)
    )
    await t.jobs.schedule(
        "process_round_results",
        {},
        guild_id=guild,
        channel_id=channel,
        scheduled_by=HOST,
        delay=timedelta(hours=2),
        reminders=[
            Reminder(offset=timedelta(minutes=30), message="30 minutes"),
            Reminder(offset=timedelta(minutes=5), message="5 minutes"),
        ],
        description="Safari Round Results",
        key="safari-round-1",
    )
    await t.jobs.schedule(
        "post_message",
        {"content": "Hello"},
        guild_id=guild,
        channel_id=channel,
        scheduled_by=HOST,
        delay=timedelta(hours=3),
    )
    await t.challenges.create(
        key="spring",
        title="Spring games",
        guild_id=guild,
        channel_id=channel,
        host_id=HOST,
        rounds=parse_rounds("2h Round 1 | Go!\n3h Round 2", parse_reminders("30m")),
    )


async def listed(t: Target, guild: int, jobs: int, chains: int) -> None:
    async def ready() -> bool:
        return len(await t.jobs.get_jobs(guild)) == jobs and len(await t.challenges.running(guild)) == chains

    await eventually(ready)


def without_ids(document: ServerExport, ids: dict[int, str]) -> dict[str, Any]:
    """The document with these ids and its custom actions' ids as names, its moment left out."""
    text = document.model_dump_json(exclude={"exported_at"})
    for action in document.custom_actions:
        text = text.replace(action.id, f"<action {action.name}>")
    for value, name in ids.items():
        text = text.replace(str(value), name)
    result: dict[str, Any] = json.loads(text)
    return result


async def test_export_import_export_gives_the_same_document_but_for_ids(target: Target) -> None:
    a, b, channel_a, channel_b, role_a, role_b = snowflakes(6)
    await populate(target, a, channel_a, role_a)
    await listed(target, a, jobs=3, chains=1)
    first = await export_server(target, a)
    assert [j.key for j in first.jobs][:1] == ["safari-round-1"]
    assert [a_.name for a_ in first.custom_actions] == ["Ghost Walk", "Treasure Hunt"]
    assert first.settings == {HOST_ROLE: str(role_a), WHISPERS_ENABLED: False}
    jsonschema.validate(json.loads(to_json(first)), schema())

    report = await import_server(
        target, to_json(first).encode(), guild_id=b, ids={channel_a: channel_b, role_a: role_b}
    )
    assert report.count("refused") == 0 and report.count("skipped") == 0, report.text()
    assert report.count("created") == 9, report.text()
    await listed(target, b, jobs=3, chains=1)
    second = await export_server(target, b)

    assert second.guild_id == b and second.settings[HOST_ROLE] == str(role_b)
    assert {x.id for x in second.custom_actions}.isdisjoint({x.id for x in first.custom_actions})
    assert without_ids(first, {a: "<guild>", channel_a: "<channel>", role_a: "<role>"}) == without_ids(
        second, {b: "<guild>", channel_b: "<channel>", role_b: "<role>"}
    )


async def test_into_the_same_server_nothing_changes_and_a_second_import_starts_nothing(
    target: Target,
) -> None:
    a, b, channel_a, channel_b, role_a, role_b = snowflakes(6)
    await populate(target, a, channel_a, role_a)
    await listed(target, a, jobs=3, chains=1)
    document = to_json(await export_server(target, a)).encode()
    client, starts = recording(target.client)
    watched = Target(client, target.task_queue)
    same = await import_server(watched, document, guild_id=a)
    assert same.count("created") == 0 and same.count("refused") == 0, same.text()
    assert starts.started == []

    await import_server(target, document, guild_id=b, ids={channel_a: channel_b, role_a: role_b})
    again = await import_server(watched, document, guild_id=b, ids={channel_a: channel_b, role_a: role_b})
    assert again.count("created") == 0 and again.count("refused") == 0, again.text()
    assert starts.started == []


async def test_a_dry_run_starts_nothing_and_names_the_ids_to_map(target: Target) -> None:
    a, c, channel_a, role_a = snowflakes(4)
    await populate(target, a, channel_a, role_a)
    await listed(target, a, jobs=3, chains=1)
    document = to_json(await export_server(target, a)).encode()
    client, starts = recording(target.client)
    dry = Target(client, target.task_queue, dry_run=True)
    unmapped = await import_server(dry, document, guild_id=c)
    refused = [f"{e.where}: {e.why}" for e in unmapped.of("refused")]
    assert (
        f"setting host_role: role {role_a} belongs to the other server: map it with --map {role_a}=<id here>"
        in refused
    )
    assert (
        sum(f"channel {channel_a} belongs to the other server" in line for line in refused) == 4
    )  # chain, 3 jobs
    assert any(line.startswith("custom action 2") and f"role {role_a}" in line for line in refused)
    # Its channels mapped but not its role: the action is refused, and its scheduled run with it.
    partly = await import_server(dry, document, guild_id=c, ids={channel_a: 1})
    assert [e.where.split(" (")[0] for e in partly.of("refused")] == [
        "setting host_role",
        "custom action 2",
        "job 3",
    ]
    assert partly.of("refused")[2].why == "its custom action is not here (see above)"
    mapped = await import_server(dry, document, guild_id=c, ids={channel_a: 1, role_a: 2})
    assert mapped.count("refused") == 0 and mapped.count("created") == 9, mapped.text()
    assert mapped.lines()[-1] == "Dry run, nothing changed. Would create 9, skip 0, refuse 0."
    assert starts.started == []
    assert await target.settings.read(c) == {}


async def test_a_document_of_another_kind_or_version_is_refused(target: Target) -> None:
    for text, why in (
        (
            b'{"format": "server-export", "version": 2}',
            "this reads 'server-export' version 1, not 'server-export' version 2",
        ),
        (b'{"format": "server-export", "version": 1}', "not a server export: guild id: is required"),
        (  # once silently dropped: the server got the default claim timeout
            b'{"format": "server-export", "version": 1, "guild_id": "1", "exported_at": '
            b'"2026-12-01T00:00:00Z", "season_defaults": {"claim_timout": "2d"}}',
            "not a server export: season defaults: there is no season rule called claim_timout; "
            "the rules are turn_pattern, claim_timeout,",
        ),
        (b"[1, 2", "not JSON"),
    ):
        [entry] = (await import_server(target, text, guild_id=1)).entries
        assert entry.outcome == "refused" and why in entry.why


async def test_a_chain_keeps_its_rounds_channels_and_only_the_reminders_still_to_come(target: Target) -> None:
    a, b, channel_a, channel_b, photos_a, photos_b = snowflakes(6)
    rounds = parse_rounds(f"31m Round 1\n1h Photos in <#{photos_a}>", parse_reminders("30m"))
    await target.challenges.create(
        key="near", title="Near", guild_id=a, channel_id=channel_a, host_id=HOST, rounds=rounds
    )
    await listed(target, a, jobs=0, chains=1)
    document = to_json(await export_server(target, a)).encode()
    # Imported 5 minutes later: round 1's 30-minute reminder was due where the chain ran before.
    later = Target(target.client, target.task_queue, clock=lambda: utcnow() + timedelta(minutes=5))
    report = await import_server(later, document, guild_id=b, ids={channel_a: channel_b, photos_a: photos_b})
    assert report.count("refused") == 0 and report.count("created") == 1, report.text()
    spec = (await later.started_input(challenge_id_for(b, "near"), ChallengeInput)).spec
    assert [[r.offset for r in round_.reminders] for round_ in spec.rounds] == [[], [timedelta(minutes=30)]]
    assert [round_.channel_id for round_ in spec.rounds] == [None, photos_b]
