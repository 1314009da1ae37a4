"""The worker's build id names the code it runs: a change to our sources gives a new one, the
same code the same one (operators reset workflows by it, as by the SDK's default)."""

from __future__ import annotations

from pathlib import Path

import pytest

import stack.build_id as build_id


def _tree(root: Path, worker_source: str) -> None:
    (root / "workflows").mkdir()
    (root / "workflows" / "jobs.py").write_text("JOBS = 1\n")
    (root / "worker.py").write_text(worker_source)


def test_build_id_follows_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compute = build_id.code_build_id.__wrapped__
    monkeypatch.setattr(build_id, "REPO", tmp_path)
    _tree(tmp_path, "A = 1\n")
    first = compute()
    assert compute() == first
    (tmp_path / "workflows" / "jobs.py").write_text("JOBS = 2\n")
    assert compute() != first
