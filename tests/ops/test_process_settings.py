"""stack/settings.py PROCESS_FEATURES against the code: each process's declared settings are
exactly the settings its code reads, found by following its imports from its entry point (and, for
the bot, the cogs it loads by name) and collecting every Settings field its modules name."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from bot.app import FEATURES
from stack.settings import DEV_STACK_ONLY, PROCESS_FEATURES, RENAMED, Settings, process_settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"stack", "workflows", "activities", "clients", "components", "bot", "local_discord", "worker"}
FIELDS = set(Settings.model_fields)
# What each process starts from: its command's module, and the bot's cogs, loaded by name.
ENTRIES = {
    "worker": ("worker",),
    "bot": ("bot.__main__", *FEATURES),
    "codec server": ("stack.codec_server",),
}


def source(module: str) -> Path | None:
    for path in (ROOT / f"{module.replace('.', '/')}.py", ROOT / module.replace(".", "/") / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports(module: str, tree: ast.Module, is_package: bool) -> set[str]:
    """The project's modules `module` imports (a `from a import b` may import module a.b)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES and source(name)}


@cache
def settings_methods() -> dict[str, set[str]]:
    """Settings' own methods and the fields each reads (`aes_keys` reads `encryption_keys`)."""
    tree = ast.parse((ROOT / "stack" / "settings.py").read_text())
    [settings] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {
        method.name: {n.attr for n in ast.walk(method) if isinstance(n, ast.Attribute) and n.attr in FIELDS}
        for method in settings.body
        if isinstance(method, ast.FunctionDef) and not method.name.startswith("_")
    }


def fields_named(tree: ast.Module) -> set[str]:
    """Settings fields a module reads: as attributes, as names passed to getattr (strings), or
    through a method of Settings."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in FIELDS:
                found.add(node.attr)
            found |= settings_methods().get(node.attr, set())
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in FIELDS:
            found.add(node.value)
    return found


def read_by(process: str) -> set[str]:
    """Every setting (environment name) the code of `process` reads."""
    seen: set[str] = set()
    todo = list(ENTRIES[process])
    read: set[str] = set()
    while todo:
        module = todo.pop()
        path = source(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        tree = ast.parse(path.read_text())
        todo.extend(imports(module, tree, path.name == "__init__.py"))
        if path != ROOT / "stack" / "settings.py":  # declares every field, reads none
            read |= fields_named(tree)
    return {name.upper() for name in read}


@pytest.mark.parametrize("process", sorted(PROCESS_FEATURES))
def test_a_process_is_declared_to_read_exactly_what_its_code_reads(process: str) -> None:
    _, declared = process_settings(process)
    read = read_by(process)
    assert not read - declared, f"{process} reads {sorted(read - declared)}: declare them in PROCESS_FEATURES"
    assert not declared - read, (
        f"{process} is declared to read {sorted(declared - read)}, which it never does"
    )


def test_the_bots_whispers_need_the_whisper_key_and_nothing_else_reads_it() -> None:
    assert "WHISPER_KEYS" in read_by("bot")
    assert process_settings("bot")[0]["WHISPER_KEYS"] == "whispers"
    assert all("WHISPER_KEYS" not in read_by(process) for process in ("worker", "codec server"))


def test_every_setting_is_some_process_s_or_the_dev_stack_s() -> None:
    """A new setting must be declared for the processes that read it, or compose never passes it."""
    declared = set().union(*(process_settings(process)[1] for process in PROCESS_FEATURES))
    refused = {name.upper() for name in RENAMED}  # old names: validated only to be refused
    assert {name.upper() for name in FIELDS} - declared - refused == set(DEV_STACK_ONLY)
