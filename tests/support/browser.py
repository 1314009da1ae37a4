"""Debian's Chromium for the browser tests, through Playwright (which never downloads one here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots go here (ignored by git).
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"

# On a developer's machine without Chromium the test is skipped; in CI (`.ci/run` installs it) a
# missing browser is a failure, not a skip.
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="the browser tests need Chromium, which is not installed: apt-get install chromium",
)
