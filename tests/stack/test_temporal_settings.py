"""The Temporal connection is read as the SDK's environment configuration reads it (the CLI's
TEMPORAL_* variables and temporal.toml profiles), so one set of variables serves every tool."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from stack.devserver import DevServer, free_port, temporal_cli_path
from stack.settings import Settings
from stack.temporal import connect, connection
from tests.support.temporal import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]

PROFILES = """
[profile.default]
address = "temporal.internal:7233"
namespace = "games"

[profile.cloud]
address = "games.a1b2c.tmprl.cloud:7233"
namespace = "games.a1b2c"
api_key = "secret-key"
[profile.cloud.tls]
client_cert_path = "{cert}"
client_key_path = "{key}"
"""


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    (tmp_path / "client.pem").write_text("CERT")
    (tmp_path / "client.key").write_text("KEY")
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILES.format(cert=tmp_path / "client.pem", key=tmp_path / "client.key"))
    return path


def test_the_default_profile_of_the_config_file(toml: Path) -> None:
    target = connection(settings(temporal_config_file=toml))
    assert (target.address, target.namespace, target.tls) == ("temporal.internal:7233", "games", False)


def test_a_named_profile_with_api_key_and_client_certificate(toml: Path) -> None:
    target = connection(settings(temporal_config_file=toml, temporal_profile="cloud"))
    assert (target.address, target.namespace, target.api_key) == (
        "games.a1b2c.tmprl.cloud:7233",
        "games.a1b2c",
        "secret-key",
    )
    assert isinstance(target.tls, TLSConfig)
    assert (target.tls.client_cert, target.tls.client_private_key) == (b"CERT", b"KEY")


def test_variables_override_the_profile(toml: Path) -> None:
    target = connection(
        settings(
            temporal_config_file=toml,
            temporal_profile="cloud",
            temporal_address="other.example:7233",
            temporal_namespace="other",
        )
    )
    assert (target.address, target.namespace, target.api_key) == ("other.example:7233", "other", "secret-key")


def test_tls_variables_give_mtls(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("CERT")
    (tmp_path / "k.pem").write_text("KEY")
    target = connection(
        settings(
            temporal_tls_client_cert_path=tmp_path / "c.pem", temporal_tls_client_key_path=tmp_path / "k.pem"
        )
    )
    assert isinstance(target.tls, TLSConfig)
    assert (target.tls.client_cert, target.tls.client_private_key) == (b"CERT", b"KEY")
    assert connection(settings(temporal_api_key="k")).tls is True  # an API key implies TLS
    assert connection(settings()).tls is False
    assert (connection(settings()).address, connection(settings()).namespace) == ("127.0.0.1:7233", "default")


def test_an_unknown_profile_or_missing_file_stops_with_one_line(toml: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"Temporal profile 'staging'.*not found"):
        connection(settings(temporal_config_file=toml, temporal_profile="staging"))
    with pytest.raises(SystemExit, match=r"TEMPORAL_CONFIG_FILE: .* is not a file"):
        connection(settings(temporal_config_file=tmp_path / "missing.toml"))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
        ("TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
    ],
)
def test_the_old_tls_names_are_refused_naming_the_new_ones(tmp_path: Path, old: str, new: str) -> None:
    env = {**os.environ, old: "/etc/temporal/client.pem", "DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"configuration error: {old}: Value error, renamed: set {new} instead "
        "(the name the Temporal CLI and SDKs read)"
    ]


async def test_the_worker_the_cli_and_the_sdk_reach_the_server_through_one_profile(
    tmp_path: Path,
) -> None:
    async with DevServer(port=free_port(), headless=True, namespaces=["games"]) as server:
        toml = tmp_path / "temporal.toml"
        toml.write_text(f'[profile.dev]\naddress = "{server.address}"\nnamespace = "games"\n')
        env = {**os.environ, "TEMPORAL_CONFIG_FILE": str(toml), "TEMPORAL_PROFILE": "dev"}
        cli = subprocess.run(
            [str(temporal_cli_path()), "operator", "namespace", "describe", "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert cli.returncode == 0 and '"name": "games"' in cli.stdout, cli.stderr
        client = await connect(
            settings(
                temporal_config_file=toml,
                temporal_profile="dev",
                encryption_keys=[base64.b64encode(TEST_KEY).decode()],
            )
        )
        assert client.namespace == "games"
        assert [ns async for ns in client.list_workflows()] == []
