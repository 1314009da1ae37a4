"""Whisper text at rest: with the real dev server (SQLite file in WAL mode), the real worker as a
child process and the fake Discord, a whisper is sent and read; its text is then nowhere in the
server's database files nor in `temporal workflow show`, and the codec server, given the token,
opens its payloads and still shows no text: only the whisper key (the bot's) opens the seal."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from clients.whispers import NotForYou, WhisperOver, Whispers, whisper_id_for
from components.whispers import READ_BUTTON
from local_discord import FakeDiscord
from stack.codec_server import codec_endpoint, create_app, serve
from stack.devserver import DevServer, free_port, temporal_cli_path
from stack.temporal import data_converter
from tests.support.temporal import TEST_KEY, eventually
from tests.support.whispers import whisper_seal
from tests.support.worker_process import WorkerProcess
from workflows.whispers_models import WhisperResult

GUILD, CHANNEL, ALICE, BOB, EVE = 8001, 8002, 8003, 8004, 8005
TOKEN = "at-rest-codec-token"


def database_bytes(db_file: Path) -> bytes:
    """The SQLite file and its write-ahead log (the dev server runs in WAL mode) and shared memory."""
    parts = [db_file, db_file.with_name(db_file.name + "-wal"), db_file.with_name(db_file.name + "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def workflow_show(server: DevServer, whisper_id: str) -> str:
    return subprocess.run(
        [
            str(temporal_cli_path()),
            "workflow",
            "show",
            "--address",
            server.address,
            "-w",
            whisper_id,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def readable(show_json: str) -> str:
    """The CLI's JSON plus every payload's `data` base64-decoded: the CLI prints payloads as base64,
    so a plain-text payload would only show up decoded."""
    found: list[str] = [show_json]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    found.append(base64.b64decode(value).decode(errors="replace"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(show_json))
    return "\n".join(found)


def started_input(show_json: str) -> list[dict[str, Any]]:
    """The workflow input payloads as the CLI prints them (the codec server's JSON shape)."""
    history = json.loads(show_json)
    events = history["events"] if isinstance(history, dict) else history
    for event in events:
        attrs = event.get("workflowExecutionStartedEventAttributes")
        if attrs:
            payloads: list[dict[str, Any]] = attrs["input"]["payloads"]
            return payloads
    raise AssertionError("no started event in the CLI output")


def every_payload(show_json: str) -> list[dict[str, Any]]:
    """Every payload the CLI printed, as the Web UI would post them to the codec server."""
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "data" in node and "encoding" in (node.get("metadata") or {}):
                found.append({"metadata": node["metadata"], "data": node["data"]})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(show_json))
    return found


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[DevServer, Client, FakeDiscord, WorkerProcess]]:
    db_file = tmp_path / "t.sqlite"
    async with (
        DevServer(db_file=db_file, port=free_port(), headless=True) as server,
        FakeDiscord() as fake,
    ):
        fake.add_channel(CHANNEL, GUILD)
        async with WorkerProcess(
            temporal_address=server.address,
            task_queue=f"at-rest-{uuid.uuid4().hex[:8]}",
            discord_api_base=fake.base_url,
            log_dir=tmp_path,
        ) as worker:
            client = await Client.connect(server.address, data_converter=data_converter([TEST_KEY]))
            yield server, client, fake, worker
        fake.assert_no_violations()
        assert fake.unexpected_requests() == []


async def test_whisper_text_is_encrypted_at_rest_and_only_the_codec_server_opens_it(
    stack: tuple[DevServer, Client, FakeDiscord, WorkerProcess],
) -> None:
    server, client, fake, worker = stack
    assert server.db_file is not None
    secret = f"ZQX-whisper-{uuid.uuid4().hex}-the-vault-code-is-7741"
    whispers = Whispers(client, worker.task_queue, whisper_seal())

    whisper_id = await whispers.send(
        guild_id=GUILD,
        channel_id=CHANNEL,
        sender_id=ALICE,
        recipient_id=BOB,
        text=secret,
        reread_window=timedelta(seconds=2),
    )
    await eventually(lambda: len(fake.messages(CHANNEL)) == 1)
    [notice] = fake.messages(CHANNEL)
    assert notice.content == f"💬 <@{ALICE}> whispers to <@{BOB}>"
    [row] = notice.components
    [button] = row["components"]
    assert (
        button["custom_id"] == READ_BUTTON.build(whisper_id=whisper_id) and button["label"] == "Read Message"
    )
    assert notice.nonce and len(str(notice.nonce)) <= 25

    with pytest.raises(NotForYou):
        await whispers.read(whisper_id, reader_id=EVE)
    read = await whispers.read(whisper_id, reader_id=BOB)
    assert read.text == secret and not read.already_read

    outcome = await client.get_workflow_handle(whisper_id, result_type=WhisperResult).result()
    assert outcome.outcome == "read"
    assert fake.messages(CHANNEL) == []  # the notification was removed
    [dm] = fake.dms(ALICE)
    assert dm.content == f"📬 <@{BOB}> opened your whisper."
    with pytest.raises(WhisperOver, match="expired"):
        await whispers.read(whisper_id, reader_id=BOB)

    # Nowhere in the database (the search finds plain text: the id is there) ...
    stored = database_bytes(server.db_file)
    assert whisper_id.encode() in stored
    assert secret.encode() not in stored
    assert b"vault-code" not in stored
    # ... nor in what an operator's CLI shows without the codec ...
    shown = workflow_show(server, whisper_id)
    assert whisper_id in shown or "WorkflowExecutionUpdateAccepted" in shown or "UPDATE_ACCEPTED" in shown
    assert secret not in readable(shown) and "vault-code" not in readable(shown)
    # ... nor in anything the fake Discord received.
    assert all(secret not in json.dumps(r.json) for r in fake.requests())

    # The codec server opens the stored payloads with the token (and refuses without it), and
    # what it opens holds the sealed text only.
    port = free_port()
    runner = await serve(create_app([TEST_KEY], TOKEN, ["http://127.0.0.1:8233"]), port=port)
    try:
        body = {"payloads": started_input(shown)}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/decode", json=body) as refused:
                assert refused.status == 401
                assert secret not in await refused.text()
            async with session.post(
                f"http://127.0.0.1:{port}/decode",
                json=body,
                headers={"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"},
            ) as opened:
                assert opened.status == 200
                decoded = await opened.json()
            async with session.post(f"{codec_endpoint(TOKEN, port=port)}/decode", json=body) as by_path:
                assert by_path.status == 200
                assert await by_path.json() == decoded
            everything = {"payloads": every_payload(shown)}
            async with session.post(
                f"{codec_endpoint(TOKEN, port=port)}/decode", json=everything
            ) as all_of_it:
                assert all_of_it.status == 200
                opened_all = [
                    base64.b64decode(p.get("data", "")) for p in (await all_of_it.json())["payloads"]
                ]
    finally:
        await runner.cleanup()
    [payload] = decoded["payloads"]
    spec = json.loads(base64.b64decode(payload["data"]))
    assert spec["recipient_id"] == str(BOB) and spec["sealed_text"].startswith("w1.")
    assert spec.get("text") is None
    assert len(opened_all) >= 3  # the input, the read's result, the result ...
    assert all(secret.encode() not in data and b"vault-code" not in data for data in opened_all)

    # Control: the same search does find a text written with neither codec nor seal (a whisper
    # as the bot started them before sealing, from a client without the codec).
    control = f"ZQX-control-{uuid.uuid4().hex}"
    plain = await Client.connect(server.address, data_converter=pydantic_data_converter)
    control_id = whisper_id_for(GUILD, ALICE)
    old_input = {"guild_id": GUILD, "channel_id": CHANNEL, "sender_id": ALICE, "recipient_id": BOB}
    await plain.start_workflow(
        "Whisper", {**old_input, "text": control}, id=control_id, task_queue=worker.task_queue
    )
    await eventually(lambda: len(fake.messages(CHANNEL)) == 1)
    assert control.encode() in database_bytes(server.db_file)
    assert control in readable(workflow_show(server, control_id))

    # After the server stops (and checkpoints its WAL into the main file) it is still not there.
    await server.stop()
    assert secret.encode() not in database_bytes(server.db_file)
