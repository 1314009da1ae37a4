"""The dev stack: `stack.devserver.DevServer` and the run command (`python -m stack`).

Ephemeral ports, files under tmp_path, and only processes these tests start.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest

from clients.jobs_history import HISTORY_REACH
from stack.devserver import NAMESPACE_RETENTION, SEARCH_ATTRIBUTES, DevServer, free_port, temporal_cli_path
from stack.launcher import NO_BOT
from stack.settings import Settings
from tests.support.temporal import eventually

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie we do not own still answers kill(0); its state says it is dead.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z"


def cli_search_attributes(address: str, namespace: str = "default") -> dict[str, str]:
    out = subprocess.run(
        [
            str(temporal_cli_path()),
            "operator",
            "search-attribute",
            "list",
            "--address",
            address,
            "--namespace",
            namespace,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    custom: dict[str, str] = json.loads(out.stdout)["customAttributes"]
    return custom


def test_production_registers_the_same_search_attributes() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    block = re.search(r"SEARCH_ATTRIBUTES: >-\n((?:\s+\w+=\w+\n)+)", compose)
    assert block, "docker-compose.yml: temporal-setup's SEARCH_ATTRIBUTES block not found"
    pairs = dict(line.strip().split("=") for line in block.group(1).split())
    assert pairs == SEARCH_ATTRIBUTES


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Za-z_]+)` \|", readme, flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= documented
    assert set(SEARCH_ATTRIBUTES) <= documented


def test_search_attributes_come_from_the_workflows() -> None:
    assert SEARCH_ATTRIBUTES == {
        "GuildId": "Keyword",
        "ChannelId": "Keyword",
        "JobAction": "Keyword",
        "JobDeadline": "Datetime",
        "JobKey": "Keyword",
        "ScheduledBy": "Keyword",
        "Outcome": "Keyword",
        "Title": "Keyword",
    }


async def test_dev_server_keeps_its_state_across_kill_and_restart(tmp_path: Path) -> None:
    db = tmp_path / "temporal.sqlite"
    # Start as an older version of the code would have: one attribute only.
    server = DevServer(db_file=db, port=free_port(), headless=True, search_attributes={"GuildId": "Keyword"})
    async with server:
        assert server.address.startswith("127.0.0.1:") and server.ui_url is None
        assert "--sqlite-pragma" in server.command() and db.exists()
        assert await server.list_search_attributes() == {"GuildId": "Keyword"}
        client = await server.connect()
        # State made at run time, not from the command line, so only the database file keeps it.
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace="made-at-runtime", workflow_execution_retention_period=Duration(seconds=86400)
            )
        )
        first_pid = server.pid
        assert first_pid is not None

        server.kill()
        assert not server.running and server.returncode == -signal.SIGKILL and gone(first_pid)

        # The code now declares every attribute: the existing database gets the missing ones.
        server.search_attributes = dict(SEARCH_ATTRIBUTES)
        await server.restart()
        assert server.pid != first_pid
        client = await server.connect()
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="made-at-runtime")
        )
        assert described.namespace_info.name == "made-at-runtime"
        assert await server.list_search_attributes() == SEARCH_ATTRIBUTES
        # The operators' view: `temporal operator search-attribute list`.
        listed = cli_search_attributes(server.address)
        assert listed["JobDeadline"] == "INDEXED_VALUE_TYPE_DATETIME" and set(SEARCH_ATTRIBUTES) <= set(
            listed
        )
        last_pid = server.pid
    assert last_pid is not None and gone(last_pid)


async def test_dev_server_keeps_closed_runs_as_long_as_the_history_says() -> None:
    # `/schedule history` promises HISTORY_REACH; the CLI would create its namespaces with 1 day.
    async with DevServer(port=free_port(), headless=True, namespaces=["games"]) as server:
        client = await server.connect()
        for namespace in ("default", "games"):
            described = await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            kept = described.config.workflow_execution_retention_ttl.ToTimedelta()
            assert kept == NAMESPACE_RETENTION == HISTORY_REACH
    compose = (ROOT / "docker-compose.yml").read_text()
    assert f"NAMESPACE_RETENTION:-{HISTORY_REACH.days}d" in compose


async def test_dev_server_reports_a_busy_port(tmp_path: Path) -> None:
    async with DevServer(port=free_port(), headless=True) as first:
        second = DevServer(port=first.port, headless=True)
        try:
            await second.start()
        except RuntimeError as err:
            assert "already in use" in str(err)
        else:
            raise AssertionError("a second server started on a busy port")
        finally:
            await second.stop()
            second.close()
        assert first.running


def test_a_free_port_is_not_handed_to_the_next_server_that_asks_for_any_port() -> None:
    # The dev server picks its history, matching and worker ports by binding port 0 (with
    # SO_REUSEADDR, as Go does). A port chosen for another process and not yet bound by it must
    # not be among them, or that server panics on start (a CI run lost 16 tests to this).
    chosen = {free_port() for _ in range(50)}
    given_to_others = set()
    for _ in range(20_000):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            given_to_others.add(sock.getsockname()[1])
    assert not chosen & given_to_others
    # ...while the process it was chosen for can still listen on it.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", chosen.pop()))
        sock.listen()


def test_a_dev_server_that_panics_is_reported_with_the_panic_not_only_its_stack(tmp_path: Path) -> None:
    log = tmp_path / "temporal.log"
    cause = "panic: listen tcp 127.0.0.1:40001: bind: address already in use"
    log.write_text("\n".join([cause, "", "goroutine 1 [running]:", *[f"frame {i}" for i in range(200)]]))
    tail = DevServer(port=7233, headless=True, log_file=log).log_tail()
    assert tail.splitlines()[0] == cause and tail.endswith("frame 199")


def test_run_command_names_a_bad_setting(tmp_path: Path) -> None:
    env = {**os.environ, "TEMPORAL_ADDRESS": "nonsense", "DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "stack"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TEMPORAL_ADDRESS" in lines[0], result.stderr
    assert not (tmp_path / "data").exists()


PLACEHOLDER_WORKER = """
import os, signal, sys, time
open("worker-env.txt", "w").write(os.environ.get("ENCRYPTION_KEYS", ""))
if os.environ.get("PLACEHOLDER_EXIT"):
    time.sleep(0.5)
    sys.exit(int(os.environ["PLACEHOLDER_EXIT"]))
def stopped(signum, frame):
    print(f"placeholder worker stopped by {signal.Signals(signum).name}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
signal.signal(signal.SIGINT, stopped)
signal.pause()
"""


async def start_stack(cwd: Path, *args: str, **extra_env: str) -> tuple[asyncio.subprocess.Process, str]:
    """`python -m stack --headless ARGS` in `cwd` (with a placeholder worker.py), started until it
    says it is up; returns the process and its output so far."""
    (cwd / "worker.py").write_text(PLACEHOLDER_WORKER)
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "ENCRYPTION_KEYS")}
    env.update(
        PYTHONPATH=str(ROOT),
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        DATA_DIR=str(cwd / "data"),
        **extra_env,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stack",
        "--headless",
        *args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output = ""
    async with asyncio.timeout(30):
        while "Ctrl-C stops everything" not in output:
            line = await proc.stdout.readline()
            if not line:
                break
            output += line.decode()
    return proc, output


def pid_after(output: str, marker: str) -> int:
    """The pid the run command printed on its line starting with `marker`."""
    line = next(line for line in output.splitlines() if line.startswith(marker))
    found = re.search(r"pid (\d+)", line)
    assert found, line
    return int(found.group(1))


async def test_run_command_starts_the_stack_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    proc, output = await start_stack(tmp_path, "--no-bot")
    try:
        assert NO_BOT in output, output
        server_pid = pid_after(output, "Temporal gRPC")
        worker_pid = pid_after(output, "started worker")
        key_file = tmp_path / "data" / "encryption.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert len(base64.b64decode(key_file.read_text())) == 32
        await asyncio.sleep(0.3)
        assert (tmp_path / "worker-env.txt").read_text() == key_file.read_text().strip()
        assert (tmp_path / "data" / "temporal.sqlite").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest, _ = await proc.communicate()
    output += rest.decode()
    assert proc.returncode == 0, output
    assert "placeholder worker stopped by SIGTERM" in output
    assert output.index("stopping worker") < output.index("stopping the Temporal server")
    assert gone(server_pid) and gone(worker_pid)


async def test_run_command_stops_everything_when_a_child_dies(tmp_path: Path) -> None:
    proc, output = await start_stack(tmp_path, "--no-bot", PLACEHOLDER_EXIT="3")
    server_pid = pid_after(output, "Temporal gRPC")
    async with asyncio.timeout(30):
        rest, _ = await proc.communicate()
    output += rest.decode()
    assert proc.returncode == 1, output
    assert "worker" in output and "exited with code 3" in output
    assert gone(server_pid)


async def test_run_command_without_a_token_starts_the_playground_and_the_bot_joins_it(tmp_path: Path) -> None:
    proc, output = await start_stack(tmp_path, "--playground-port", "0")
    try:
        line = next(line for line in output.splitlines() if line.startswith("Playground"))
        page = line.split()[1]
        bot_pid = pid_after(output, "started bot")
        playground_pid = pid_after(output, "started playground")

        async def bot_online() -> bool:
            async with aiohttp.ClientSession() as http, http.get(f"{page}/_play/state?as=1") as response:
                return bool((await response.json())["bot_connected"])

        # The real bot process, given the playground's token and API by the run command.
        await eventually(bot_online, timeout=60)
        async with aiohttp.ClientSession() as http, http.get(page) as response:
            assert response.status == 200 and "Playground" in await response.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(40):
            rest, _ = await proc.communicate()
    output += rest.decode()
    assert proc.returncode == 0, output
    assert (
        output.index("stopping bot") < output.index("stopping worker") < output.index("stopping playground")
    )
    assert gone(bot_pid) and gone(playground_pid)
