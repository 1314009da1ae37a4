"""`python -m adoption` as operators run it: a child process with the stack's settings in its
environment, against the real dev server. A dry run prints what it would do and never a
whisper's text; a refused entry makes the exit status 1; bad arguments stop before connecting."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stack.devserver import DevServer
from tests.support.adoption import at_now
from tests.support.temporal import TEST_KEY
from tests.support.whispers import WHISPER_KEYS
from tests.support.worker_process import REPO

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the `server` fixture's loop


def adoption(server: DevServer | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": server.address if server else "127.0.0.1:1",
        "TEMPORAL_TASK_QUEUE": "adoption-cli",
        "ENCRYPTION_KEYS": base64.b64encode(TEST_KEY).decode(),
        "WHISPER_KEYS": WHISPER_KEYS,
    }
    return subprocess.run(
        [sys.executable, "-m", "adoption", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_names_every_command() -> None:
    shown = adoption(None, "--help")
    assert shown.returncode == 0
    for command in ("castbot-jobs", "castbot-whispers", "epyc", "export", "import", "schema"):
        assert command in shown.stdout


def test_bad_arguments_stop_before_connecting(tmp_path: Path) -> None:
    missing = adoption(None, "castbot-jobs", str(tmp_path / "nope.json"), "--dry-run")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    document = tmp_path / "server.json"
    document.write_text("{}")
    bad = adoption(None, "import", str(document), "--guild", "5", "--map", "channel=7")
    assert bad.returncode == 2 and "--map takes <old id>=<new id>" in bad.stderr


@MODULE_LOOP
async def test_a_dry_run_of_whispers_prints_what_it_would_do_and_no_text(
    server: DevServer, tmp_path: Path
) -> None:
    file = tmp_path / "data_whispers.json"
    file.write_bytes(at_now("data_whispers.json", datetime.now(UTC)))
    ran = adoption(server, "castbot-whispers", str(file), "--guild", "900000000000000001", "--dry-run")
    assert ran.returncode == 1, ran.stderr  # two entries are refused
    lines = ran.stdout.splitlines()
    assert lines[0].startswith(
        "would create: data_whispers.json whisper 1 (1709230967890_k3j5h2l9q): whisper from"
    )
    assert lines[-1] == "Dry run, nothing changed. Would create 1, skip 2, refuse 2."
    assert "ZQX" not in ran.stdout + ran.stderr


@MODULE_LOOP
async def test_a_dry_run_of_castbot_jobs_needs_no_worker(server: DevServer, tmp_path: Path) -> None:
    file = tmp_path / "scheduledJobs.json"
    file.write_bytes(at_now("scheduledJobs.json", datetime.now(UTC)))
    ran = adoption(
        server,
        "castbot-jobs",
        str(file),
        "--guild",
        "900000000000000001",
        "--by",
        "900000000000000020",
        "--dry-run",
    )
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout.splitlines()[-1] == "Dry run, nothing changed. Would create 3, skip 4, refuse 6."
