"""The worker's Prometheus endpoint and JSON logs, scraped from a real `python worker.py`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from temporalio.client import Client

from clients.jobs import Jobs
from local_discord import FakeDiscord
from stack.devserver import DevServer, free_port
from stack.healthcheck import problem
from stack.settings import Settings
from stack.telemetry import metrics_runtime
from stack.temporal import connect
from tests.support.stack import CHANNEL, GUILD
from tests.support.temporal import TEST_KEY, eventually
from tests.support.worker_process import WorkerProcess
from workflows.jobs_models import JobResult

pytestmark = pytest.mark.asyncio(loop_scope="module")

GONE = 7999
ROOT = Path(__file__).resolve().parents[2]


def sample(metrics: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
    total = 0.0
    for line in metrics.splitlines():
        found = re.match(rf"{name}(?:_total)?{{(.*)}} (\S+)$", line)
        if found and all(f'{k}="{v}"' in found.group(1) for k, v in labels.items()):
            total += float(found.group(2))
    return total


async def scrape(port: int) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def run_job(client: Client, queue: str, channel: int, content: str) -> tuple[str, JobResult]:
    job_id = await Jobs(client, queue).schedule(
        "post_message",
        {"content": content},
        guild_id=GUILD,
        channel_id=channel,
        scheduled_by=7003,
        delay=timedelta(seconds=1),
        description="Telemetry test",
    )
    return job_id, await asyncio.wait_for(
        client.get_workflow_handle(job_id, result_type=JobResult).result(), 60
    )


async def test_metrics_endpoint_serves_the_sdks_metrics_and_ours_and_logs_are_json(
    server: DevServer, client: Client, tmp_path: Path
) -> None:
    port = free_port()
    async with FakeDiscord() as fake:
        fake.add_channel(CHANNEL, GUILD)
        fake.add_channel(GONE, GUILD)
        worker = WorkerProcess(
            temporal_address=server.address,
            task_queue=f"ops-{uuid.uuid4().hex[:8]}",
            discord_api_base=fake.base_url,
            log_dir=tmp_path,
        )
        worker.env.update(WORKER_METRICS_PORT=str(port), LOG_FORMAT="json")
        queue = worker.task_queue
        async with worker:
            _, done = await run_job(client, queue, CHANNEL, "counted")
            fake.remove_channel(GONE)
            failed_id, failed = await run_job(client, queue, GONE, "refused")
            assert (done.outcome, failed.outcome) == ("done", "failed")

            async def counted() -> bool:
                metrics = await scrape(port)
                completed = sample(metrics, "temporal_workflow_completed", task_queue=queue)
                return completed >= 2 and sample(metrics, "jobs_failed") >= 1

            # The worker records a completion just after the server has it.
            await eventually(counted)
            metrics = await scrape(port)
            # The container health check (docker-compose.yml) of this running worker.
            health = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "stack.healthcheck",
                f"http://127.0.0.1:{port}/metrics",
                "--metric",
                "temporal_num_pollers",
                cwd=ROOT,
            )
            assert await health.wait() == 0
    assert problem(f"http://127.0.0.1:{port}/metrics") is not None  # stopped: unhealthy

    # The SDK's own metrics, for this worker's task queue.
    assert sample(metrics, "temporal_workflow_task_queue_poll_succeed", task_queue=queue) >= 1, metrics
    # Ours, with the SDK's labels.
    assert sample(metrics, "discord_posts", activity_type="post_message", task_queue=queue) == 1, metrics
    assert sample(metrics, "discord_errors", kind="DiscordRejected", activity_type="post_message") >= 1
    assert sample(metrics, "jobs_failed", workflow_type="ScheduledJob", task_queue=queue) == 1, metrics

    records = [json.loads(line) for line in worker.log().splitlines() if line.strip()]
    assert any(r["message"].startswith("worker polling") for r in records)
    about_failure: list[dict[str, Any]] = [r for r in records if r.get("workflow_id") == failed_id]
    assert about_failure, "no log line names the failed job"
    assert any(r.get("activity") == "post_message" and r.get("run_id") for r in about_failure), about_failure


async def test_the_bots_client_serves_the_sdks_client_metrics(server: DevServer) -> None:
    """What bot/app.py run() does with BOT_METRICS_PORT: its Temporal client's runtime serves them."""
    port = free_port()
    settings = Settings(
        _env_file=None,
        temporal_address=server.address,
        encryption_keys=[base64.b64encode(TEST_KEY).decode()],
        bot_metrics_port=port,
    )
    bot_client = await connect(
        settings, runtime=metrics_runtime(settings.metrics_host, settings.bot_metrics_port)
    )
    await bot_client.count_workflows()

    async def requested() -> bool:
        return sample(await scrape(port), "temporal_request", operation="CountWorkflowExecutions") >= 1

    await eventually(requested)
    assert metrics_runtime(settings.metrics_host, None) is None  # unset: off


async def json_lines_of(
    command: list[str], env: dict[str, str], ready: str, log: Path
) -> list[dict[str, Any]]:
    """Start `command` with LOG_FORMAT=json, wait for a line containing `ready`, stop it (SIGTERM)
    and return its log lines, each of which must be a JSON object."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env={**os.environ, **env, "LOG_FORMAT": "json"}, stdout=out, stderr=out
        )
    try:
        await eventually(lambda: ready in log.read_text())
    finally:
        proc.terminate()
        await proc.wait()
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def test_the_codec_server_and_the_playground_log_json_lines(tmp_path: Path) -> None:
    """Every process `make run` starts logs JSON when asked (the worker and the bot: above)."""
    codec = await json_lines_of(
        [sys.executable, "-m", "stack.codec_server", "--port", str(free_port())],
        {"ENCRYPTION_KEYS": base64.b64encode(TEST_KEY).decode(), "CODEC_TOKEN": "json-logs-test"},
        "codec server on",
        tmp_path / "codec.log",
    )
    assert any(r["logger"] == "codec_server" and r["message"].startswith("codec server on") for r in codec)
    playground = await json_lines_of(
        [sys.executable, "-m", "local_discord", "--playground", "--port", str(free_port())],
        {},
        "playground listening on",
        tmp_path / "playground.log",
    )
    assert any(r["message"].startswith("playground listening on") for r in playground), playground
    assert all({"time", "level", "logger", "message"} <= set(r) for r in codec + playground)
