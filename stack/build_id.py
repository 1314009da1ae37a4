"""The worker's build id: which code it runs, without the SDK's walk over every loaded module."""

from __future__ import annotations

import functools
import hashlib
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The project's code a worker runs (deploy/Dockerfile copies these).
SOURCES = ("worker.py", "stack", "workflows", "activities", "clients", "components")


@functools.cache
def code_build_id() -> str:
    """An md5 of the Python version, every installed distribution's name and version, and the
    project's own sources: it changes when our code or any package changes, as the SDK's default.

    The SDK's default (`load_default_build_id`) hashes the bytecode of every loaded module and
    compiles each one whose bytecode is not on disk: 1.3 s of a 3.2 s worker start where none is
    (PYTHONDONTWRITEBYTECODE, an uncompiled venv); see bench/README.md, "Worker start".
    """
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(sys.version.encode())
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    digest.update("\n".join(dists).encode())
    for name in SOURCES:
        path = REPO / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []:
            digest.update(str(source.relative_to(REPO)).encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()
