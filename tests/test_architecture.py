"""The layering rules of docs/architecture.md, checked on the source: what may import what."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Layer -> top-level packages it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "workflows": {"bot", "clients", "activities", "components", "discord", "aiohttp", "stack"},
    "components": {"bot", "clients", "activities"},
    "clients": {"bot", "activities", "components", "discord"},
    "activities": {"bot"},
    "worker.py": {"bot"},
    # Operators' imports and exports go through the clients, like any operator's script.
    "adoption": {"bot", "activities", "components", "discord", "worker"},
    # The local Discord stands in for Discord: it knows nothing of the bot it serves.
    "local_discord": {"bot", "clients", "activities", "components", "workflows", "worker"},
    # Discord UI only: it talks to workflows through clients, never runs their side effects.
    "bot": {"activities", "worker", "local_discord"},
    # Used by every process, so below all of them (see the next test for its one workflows import).
    "stack": {"bot", "clients", "activities", "components", "worker"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def sources(layer: str) -> list[Path]:
    target = ROOT / layer
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_what_it_must_not(layer: str) -> None:
    files = sources(layer)
    assert files, f"{layer} has no Python files"
    offences = [
        f"{path.relative_to(ROOT)} imports {package}"
        for path in files
        for package in sorted(imported_packages(path) & FORBIDDEN[layer])
    ]
    assert offences == []


def imported_modules(path: Path) -> set[str]:
    """Every module of ours or not the file imports, by its full name (`from workflows import
    safari_engine` counts as `workflows.safari_engine`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if ROOT.joinpath(*node.module.split("."), f"{alias.name}.py").is_file()
            )
    return found


def test_stack_takes_from_workflows_only_the_search_attributes_it_starts_the_server_with() -> None:
    imported = {m for path in sources("stack") for m in imported_modules(path)}
    assert {m for m in imported if m.split(".")[0] == "workflows"} <= {"workflows.search_attributes"}


def test_the_bot_reads_no_store_record() -> None:
    # A store's records are read by its feature's client, which hands the bot typed values.
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources("bot")
        for module in sorted(imported_modules(path))
        if module in {"clients.store", "workflows.store", "workflows.store_models"}
    ]
    assert offences == []


def test_the_jobs_catalogue_imports_no_feature() -> None:
    # Features register their actions with the catalogue; the catalogue never names them.
    imported = imported_modules(ROOT / "workflows" / "jobs_actions.py")
    ours = {module for module in imported if module.split(".")[0] == "workflows"}
    assert ours <= {"workflows.common", "workflows.jobs_models"}


def test_every_workflow_type_is_a_feature_constant_from_its_models_module() -> None:
    # One rule for registered names: @workflow.defn(name=<FEATURE>_WORKFLOW), the constant
    # defined in workflows/<feature>_models.py.
    offences = []
    for path in sources("workflows"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        from_models = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_models")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if not (isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "workflow.defn"):
                    continue
                name = next((k.value for k in decorator.keywords if k.arg == "name"), None)
                if not (
                    isinstance(name, ast.Name) and name.id.endswith("_WORKFLOW") and name.id in from_models
                ):
                    offences.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert offences == []


def test_nothing_reads_or_links_outside_the_repository() -> None:
    # A fresh clone has nothing beside it: no file may point at a sibling folder.
    needle = "../" + "shared"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    outside = [
        name
        for name in tracked.stdout.splitlines()
        if (ROOT / name).is_file()
        and (ROOT / name).stat().st_size < 2_000_000
        and needle in (ROOT / name).read_text(encoding="utf-8", errors="replace")
    ]
    assert outside == []
