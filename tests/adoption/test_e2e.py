"""End to end: a CastBot file with a Safari round due in seconds and a whisper, imported with
`python -m adoption` into a running stack (the real dev server, `python worker.py`, the local
Discord). The reminder and the results post on time through the local Discord; the whisper's
notification is posted and the recipient reads its text."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from discord.utils import snowflake_time

from adoption.castbot import whisper_id_from
from clients.safari import join, safari_store
from clients.whispers import Whispers
from components.whispers import READ_BUTTON
from tests.support.stack import CHANNEL, GUILD, Stack
from tests.support.temporal import TEST_KEY, eventually
from tests.support.whispers import WHISPER_KEYS, whisper_seal
from tests.support.worker_process import REPO
from workflows.jobs_models import JobResult, job_id_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST, HANA, PAX = 7003, 7004, 7005
SECRET = "ZQX the fox hides in the east tower"


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


async def adoption(stack: Stack, *args: str) -> tuple[int, str]:
    """`python -m adoption` with the stack's settings, without blocking the local Discord's loop."""
    env = {
        **stack.worker.env,
        "ENCRYPTION_KEYS": base64.b64encode(TEST_KEY).decode(),
        "WHISPER_KEYS": WHISPER_KEYS,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adoption",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_an_imported_round_and_whisper_run_through_the_local_discord(
    stack: Stack, tmp_path: Path
) -> None:
    queue = stack.task_queue
    store = await safari_store(stack.client, GUILD, queue)
    for player in (HANA, PAX):
        await join(store, player, f"player {player}")
    now = datetime.now(UTC)
    deadline = now + timedelta(seconds=20)
    jobs_file, whispers_file = tmp_path / "scheduledJobs.json", tmp_path / "data_whispers.json"
    jobs_file.write_text(
        json.dumps(
            [
                {
                    "id": "job_e2e_round_1",
                    "action": "process_round_results",
                    "payload": {"channelId": str(CHANNEL), "guildId": str(GUILD)},
                    "guildId": str(GUILD),
                    "channelId": str(CHANNEL),
                    "executeAt": ms(deadline),
                    "reminders": [
                        {"offsetMs": 1_800_000, "message": "30 minutes"},
                        {"offsetMs": 10_000, "message": "10 seconds"},
                    ],
                    "reminderAction": "send_reminder",
                    "description": "Safari Round Results",
                    "createdAt": ms(now - timedelta(minutes=40)),
                }
            ]
        )
    )
    whispers_file.write_text(
        json.dumps(
            {
                "e2e_whisper_1": {
                    "senderId": str(HANA),
                    "senderName": "Hana",
                    "targetUserId": str(PAX),
                    "recipientName": "Pax",
                    "message": SECRET,
                    "coordinate": "A1",
                    "timestamp": ms(now - timedelta(hours=2)),
                    "messageId": "7099",
                    "channelId": str(CHANNEL),
                }
            }
        )
    )

    status, out = await adoption(stack, "castbot-jobs", str(jobs_file), "--by", str(HOST))
    assert status == 0, out
    assert "skipped: scheduledJobs.json entry 1 (job_e2e_round_1): reminder '30 minutes'" in out
    status, out = await adoption(stack, "castbot-whispers", str(whispers_file), "--guild", str(GUILD))
    assert status == 0 and "created: data_whispers.json whisper 1" in out, out
    assert "ZQX" not in out

    job_id = job_id_for(GUILD, "castbot:job_e2e_round_1")
    handle = stack.client.get_workflow_handle(job_id, result_type=JobResult)
    result = await asyncio.wait_for(handle.result(), timeout=40)
    assert result.outcome == "done" and [r.outcome for r in result.reminders] == ["sent"]

    whisper_id = whisper_id_from(GUILD, HANA, "e2e_whisper_1")
    posts = stack.discord.messages(CHANNEL)
    assert len(posts) == 3
    [notice] = [p for p in posts if p.content.startswith("💬")]
    [reminder] = [p for p in posts if p.content.startswith("⏰")]
    [card] = [p for p in posts if p.webhook_id is not None]
    assert notice.content == f"💬 <@{HANA}> whispers to <@{PAX}>"
    assert notice.components[0]["components"][0]["custom_id"] == READ_BUTTON.build(whisper_id=whisper_id)
    assert reminder.content.startswith("⏰ **Safari Round Results** in 10 seconds (<t:")
    assert card.webhook_id is not None and "Safari: round 1" in str(card.components)
    # On time: a post's id is a snowflake, which holds the moment Discord took it.
    assert abs(snowflake_time(reminder.id) - (deadline - timedelta(seconds=10))) < timedelta(seconds=3)
    assert abs(snowflake_time(card.id) - deadline) < timedelta(seconds=3)
    assert f"<@{HANA}>" in str(card.components) and f"<@{PAX}>" in str(card.components)
    assert all(SECRET not in json.dumps(r.json) for r in stack.discord.requests())

    whispers = Whispers(stack.client, queue, whisper_seal())
    read = await whispers.read(whisper_id, reader_id=PAX)
    assert read.text == SECRET and read.sender_id == HANA
    # Read: its notification says so and keeps its button for reading again; the round's posts stay.
    await eventually(
        lambda: any(m.id == notice.id and "was read" in m.content for m in stack.discord.messages(CHANNEL))
    )
    assert {m.id for m in stack.discord.messages(CHANNEL)} == {notice.id, reminder.id, card.id}
