"""docker-compose.yml, validated by a real Compose implementation (`config` needs no engine) and
checked against the image deploy/Dockerfile builds and the settings each process's features read
(stack/settings.py PROCESS_FEATURES, itself checked against the code by test_process_settings.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from stack.devserver import DEFAULT_DYNAMIC_CONFIG, temporal_cli_path
from stack.settings import Settings, process_settings

ROOT = Path(__file__).resolve().parents[2]
# Values unique enough to find where each secret ends up.
SECRETS = {
    "DISCORD_TOKEN": "discord-token-for-compose-test",
    "ENCRYPTION_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "WHISPER_KEYS": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
    "CODEC_TOKEN": "codec-token-for-compose-test",
    "POSTGRES_PASSWORD": "postgres-password-for-compose-test",
}
# Who may see each secret.
SECRET_HOLDERS = {
    "DISCORD_TOKEN": {"worker", "worker-next", "bot"},
    "ENCRYPTION_KEYS": {"worker", "worker-next", "bot", "codec"},
    "WHISPER_KEYS": {"bot"},  # it seals whisper text against everyone else, operators included
    "CODEC_TOKEN": {"codec", "temporal-ui"},  # the UI hands the codec endpoint to the browser
    "POSTGRES_PASSWORD": {"postgresql", "temporal-schema", "temporal"},
}
# The process each command of ours runs (stack/settings.py PROCESS_FEATURES names them).
PROCESSES = {"worker": "worker", "bot": "bot", "stack.codec_server": "codec server"}
# Read by temporal-sql-tool itself, not by the script that calls it.
TOOL_VARIABLES = {"temporal-schema": {"SQL_PASSWORD"}}


def compose_command() -> list[str]:
    """Compose v2 (`docker compose`) if present, else Debian's docker-compose (1.29)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    message = (
        "checking docker-compose.yml needs a Compose implementation (`docker compose` or "
        "docker-compose), and there is none: apt-get install docker-compose (.ci/run does it)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def env_file(tmp: Path, **changes: str) -> Path:
    """deploy/env.example with the required values filled in (and `changes`)."""
    lines = []
    for line in (ROOT / "deploy" / "env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            value = changes.pop(name, SECRETS.get(name, value))
        lines.append(f"{name}{sep}{value}" if sep else line)
    lines += [f"{k}={v}" for k, v in changes.items()]
    path = tmp / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_config(env: Path) -> subprocess.CompletedProcess[str]:
    # A clean environment: compose would let the caller's variables override the env file.
    clean = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    compose_file = str(ROOT / "docker-compose.yml")
    args = ["--project-directory", str(ROOT), "-f", compose_file, "--env-file", str(env)]
    # Every profile's services too (Compose v2 leaves them out otherwise; 1.29 always renders them).
    args += ["--profile", "rollout", "config"]
    return subprocess.run(
        [*compose_command(), *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


def parse_yaml(text: str) -> Any:
    """The venv has no YAML parser; the Compose tool's own interpreter has one."""
    tool = compose_command()[0]
    interpreter = Path(tool).read_text(errors="replace").splitlines()[0].removeprefix("#!").split()
    if not interpreter or "python" not in interpreter[0]:
        interpreter = [sys.executable]
    out = subprocess.run(
        [*interpreter, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    result = run_config(env_file(tmp_path_factory.mktemp("compose")))
    assert result.returncode == 0, result.stderr
    rendered: dict[str, dict[str, Any]] = parse_yaml(result.stdout)["services"]
    return rendered


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def ports(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, published, target) in either Compose version's rendering."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", ""), str(port.get("published", "")), str(port["target"])))
        else:
            host_ip, published, target = str(port).rsplit(":", 2)
            found.append((host_ip, published, target.removesuffix("/tcp")))
    return found


def ours(services: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The services built from deploy/Dockerfile."""
    for name, service in services.items():
        if (service.get("build") or {}).get("dockerfile", "").endswith("deploy/Dockerfile"):
            yield name, service


def one_shots(services: dict[str, dict[str, Any]]) -> set[str]:
    names = set()
    for service in services.values():
        for dep, how in (service.get("depends_on") or {}).items():
            if how.get("condition") == "service_completed_successfully":
                names.add(dep)
    return names


def process_of(service: dict[str, Any]) -> str:
    [module] = python_modules([str(part) for part in service["command"]])
    return PROCESSES[module]


def settings_problems(services: dict[str, dict[str, Any]]) -> list[str]:
    """What a service of ours lacks of its process's required settings, or gets beyond what
    its process reads."""
    found = []
    for name, service in ours(services):
        process = process_of(service)
        required, read = process_settings(process)
        env = environment(service)
        for setting, feature in required.items():
            if not env.get(setting):
                found.append(f"{name} ({process}) lacks {setting}, which its {feature} need")
        for setting in sorted(set(env) - read):
            found.append(f"{name} ({process}) gets {setting}, which it never reads")
    return found


def test_compose_renders_without_an_engine(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "codec",
        "temporal-ui",
        "worker",
        "worker-next",
        "bot",
    }
    assert services["worker-next"]["profiles"] == ["rollout"]  # started for a rollout only


def test_a_missing_secret_stops_compose_naming_it(tmp_path: Path) -> None:
    result = run_config(env_file(tmp_path, POSTGRES_PASSWORD=""))
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_long_running_services_have_health_checks_and_restart_policies(
    services: dict[str, dict[str, Any]],
) -> None:
    shots = one_shots(services)
    assert shots == {"temporal-schema", "temporal-setup"}
    for name, service in services.items():
        if name in shots:
            assert str(service.get("restart", "")).startswith("on-failure"), name
            continue
        assert service.get("restart") in ("unless-stopped", "always"), name
        test = (service.get("healthcheck") or {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"


@cache
def dev_server_versions() -> dict[str, str]:
    out = subprocess.run([str(temporal_cli_path()), "--version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"Server (\S+), UI (\S+)\)", out.stdout)
    assert found, out.stdout
    return {"server": found.group(1), "ui": found.group(2)}


def test_images_are_pinned_to_the_dev_servers_versions(services: dict[str, dict[str, Any]]) -> None:
    versions = dev_server_versions()
    images = {name: service["image"] for name, service in services.items()}
    for name, image in images.items():
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {image} is not pinned"
    ours_ = {name for name, _ in ours(services)}
    tags = {}
    for name, image in images.items():
        if name in ours_:
            continue  # built here (deploy/Dockerfile, whose base is checked below)
        # A tag says which version; the digest pins the very image, which a tag does not.
        found = re.fullmatch(r"([^:@]+):([^:@]+)@sha256:[0-9a-f]{64}", image)
        assert found, f"{name}: {image} is not pinned by digest"
        tags[name] = f"{found.group(1)}:{found.group(2)}"
    assert tags["temporal"] == f"temporalio/server:{versions['server']}"
    assert tags["temporal-schema"] == tags["temporal-setup"] == f"temporalio/admin-tools:{versions['server']}"
    assert images["temporal-schema"] == images["temporal-setup"]
    assert tags["temporal-ui"] == f"temporalio/ui:{versions['ui']}"
    assert re.fullmatch(r"postgres:\d+\.\d+", tags["postgresql"])


def test_the_image_is_built_on_a_base_pinned_by_digest() -> None:
    [base] = [
        line.split()[1]
        for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
        if line.startswith("FROM ")
    ]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base), base


def test_each_service_gets_only_the_secrets_it_needs(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "env_file" not in service, f"{name} gets a whole env file"
    for secret, value in SECRETS.items():
        holders = {name for name, s in services.items() if any(value in v for v in environment(s).values())}
        assert holders == SECRET_HOLDERS[secret], secret


def test_every_process_gets_what_its_features_need_and_nothing_else(
    services: dict[str, dict[str, Any]],
) -> None:
    assert settings_problems(services) == []
    for name, service in ours(services):
        if process_of(service) != "codec server":  # the one process that needs no Temporal
            host, _, port = environment(service)["TEMPORAL_ADDRESS"].rpartition(":")
            assert (host, port) == ("temporal", "7233"), f"{name} does not reach the compose server"


def test_a_whisper_key_taken_from_the_bot_is_found_missing(services: dict[str, dict[str, Any]]) -> None:
    """The check above is what caught the compose bot refusing every whisper: no WHISPER_KEYS."""
    without = {**services, "bot": {**services["bot"], "environment": dict(environment(services["bot"]))}}
    del without["bot"]["environment"]["WHISPER_KEYS"]
    assert settings_problems(without) == ["bot (bot) lacks WHISPER_KEYS, which its whispers need"]
    given_to_worker = {
        **services,
        "worker": {**services["worker"], "environment": dict(environment(services["worker"]))},
    }
    given_to_worker["worker"]["environment"]["WHISPER_KEYS"] = SECRETS["WHISPER_KEYS"]
    assert settings_problems(given_to_worker) == ["worker (worker) gets WHISPER_KEYS, which it never reads"]


def test_a_rollouts_workers_are_the_workers_waiting_to_be_made_current(
    services: dict[str, dict[str, Any]],
) -> None:
    worker, following = services["worker"], services["worker-next"]
    assert following["command"] == worker["command"] and following["build"] == worker["build"]
    assert environment(following) == {**environment(worker), "WORKER_ROLLOUT": "manual"}
    assert environment(worker)["WORKER_ROLLOUT"] == "new"
    assert "container_name" not in following and not ports(following)


def test_every_variable_a_setup_script_reads_is_set(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        command = service.get("command") or []
        scripts = [part for part in command if str(part).startswith("/scripts/")]
        for script in scripts:
            text = (ROOT / "deploy" / "scripts" / Path(script).name).read_text()
            used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text)) | TOOL_VARIABLES.get(name, set())
            missing = used - set(environment(service))
            assert not missing, f"{name}: {script} reads {missing}, which are not set"


def test_the_server_reads_the_dynamic_config_it_is_given(services: dict[str, dict[str, Any]]) -> None:
    server = services["temporal"]
    path = environment(server)["DYNAMIC_CONFIG_FILE_PATH"]
    assert path.startswith("config/dynamicconfig/")
    assert (ROOT / "deploy" / "dynamicconfig" / Path(path).name).is_file()
    mounts = [str(v["source"] if isinstance(v, dict) else v.split(":")[0]) for v in server["volumes"]]
    assert str(ROOT / "deploy" / "dynamicconfig") in mounts


def test_the_compose_server_dispatches_as_the_dev_stack_does(services: dict[str, dict[str, Any]]) -> None:
    """Fairness and the partition count are measured on the dev stack (bench/README.md): the
    production server is configured alike, or those figures say nothing about it."""
    path = environment(services["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]
    production = parse_yaml((ROOT / "deploy" / "dynamicconfig" / Path(path).name).read_text())
    assert {key: production[key][0]["value"] for key in DEFAULT_DYNAMIC_CONFIG} == DEFAULT_DYNAMIC_CONFIG


def test_the_web_ui_decrypts_through_the_codec_server(services: dict[str, dict[str, Any]]) -> None:
    ui, codec = services["temporal-ui"], services["codec"]
    [(ui_ip, ui_port, _)] = ports(ui)
    [(codec_ip, codec_port, codec_target)] = ports(codec)
    assert ui_ip == codec_ip == "127.0.0.1"
    endpoint = environment(ui)["TEMPORAL_CODEC_ENDPOINT"]
    assert endpoint == f"http://127.0.0.1:{codec_port}/{SECRETS['CODEC_TOKEN']}"
    command = [str(part) for part in codec["command"]]
    assert command[command.index("--port") + 1] == codec_target
    origins = {command[i + 1] for i, part in enumerate(command) if part == "--origin"}
    assert f"http://127.0.0.1:{ui_port}" in origins


def test_the_worker_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker and not ports(worker)


def image_tree(tmp: Path) -> Path:
    """What deploy/Dockerfile copies into /app, copied the same way (and each source must pass
    deploy/Dockerfile.dockerignore, which allows only what is listed with `!`)."""
    allowed = {
        line[1:].removesuffix("/**")
        for line in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    app = tmp / "app"
    app.mkdir()
    for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, dest = line.split()[1:]
        for source in sources:
            assert source in allowed, f"{source} is COPYed but excluded by the .dockerignore"
            src = ROOT / source
            target = app / (dest.removeprefix("./") if dest not in ("./", ".") else source)
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(src, app / source if dest in ("./", ".") else target)
    return app


def python_modules(command: list[str]) -> list[str]:
    """The module a `python ...` command runs: `-m pkg` runs pkg.__main__ when pkg is a package."""
    assert command[0] == "python", command
    if command[1] == "-m":
        return [command[2]]
    assert command[1].endswith(".py"), command
    return [command[1].removesuffix(".py").replace("/", ".")]


def test_every_command_exists_in_the_image(services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    app = image_tree(tmp_path)
    modules: set[str] = set()
    for _, service in ours(services):
        commands = [service["command"], service["healthcheck"]["test"][1:]]
        for command in commands:
            modules.update(python_modules([str(part) for part in command]))
    # Import each from the copied tree only (not the repository), as the container would.
    probe = (
        "import importlib, importlib.util, sys\n"
        "for name in sys.argv[1:]:\n"
        "    spec = importlib.util.find_spec(name)\n"
        "    assert spec is not None, name\n"
        "    if spec.submodule_search_locations is not None:\n"
        "        name += '.__main__'\n"
        "    module = importlib.import_module(name)\n"
        "    print(name, module.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", probe, *sorted(modules)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    files = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert set(files) == {"worker", "bot.__main__", "stack.codec_server", "stack.healthcheck"}
    assert all(Path(f).resolve().is_relative_to(app.resolve()) for f in files.values()), files


def test_an_optional_setting_passed_empty_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose passes unset optionals as `${DISCORD_DEV_GUILD:-}`, i.e. empty strings."""
    monkeypatch.setenv("DISCORD_DEV_GUILD", "")
    monkeypatch.setenv("WORKER_METRICS_PORT", "")
    settings = Settings(_env_file=None)
    assert settings.discord_dev_guild is None and settings.worker_metrics_port is None
