"""`python -m stack` (`make run`): the whole development stack in one terminal.

Starts, in order: the codec server (on the Web UI port + 1, so the UI shows timer names and
payloads decrypted; its token is CODEC_TOKEN or one kept in `<DATA_DIR>/codec.token`), the
Temporal dev server (state in `<DATA_DIR>/temporal.sqlite`, Web UI on 127.0.0.1:8233, custom
search attributes registered), without DISCORD_TOKEN the playground (a local Discord with a web
page, `python -m local_discord --playground`, on 127.0.0.1:8235), the worker (`worker.py`) and
the bot (`python -m bot`), talking to Discord or to the playground. Ctrl-C or SIGTERM stops them
in reverse order, each by its pid with SIGTERM, waiting for it to exit; a second Ctrl-C kills them
at once. If one exits on its own, everything stops and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_discord.playground import GUILD_ID as PLAYGROUND_GUILD
from local_discord.rest import API_PREFIX
from stack.codec_server import codec_endpoint
from stack.devserver import LOOPBACK, DevServer, DevServerError, die_with_parent
from stack.settings import Settings, load_settings
from stack.temporal import connection
from stack.versioning import deployment_version

NO_BOT = "--no-bot: the bot is not started; without DISCORD_TOKEN the worker's Discord posts wait and retry"
PLAYGROUND_TOKEN = "playground"
PLAYGROUND_PORT = 8235
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
KEY_FILE = "encryption.key"
TOKEN_FILE = "codec.token"
WHISPER_KEY_FILE = "whisper.key"


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack", description="Run the dev stack.")
    parser.add_argument("--ui-port", type=int, help="Web UI port (default: gRPC port + 1000, i.e. 8233)")
    parser.add_argument("--headless", action="store_true", help="run the dev server without its Web UI")
    parser.add_argument("--no-bot", action="store_true", help="run server, Web UI and worker only")
    parser.add_argument(
        "--playground-port", type=int, default=PLAYGROUND_PORT, help="the playground's port (8235)"
    )
    return parser.parse_args(argv)


async def start_playground(
    args: argparse.Namespace, settings: Settings, env: dict[str, str], stopping: asyncio.Event
) -> Child | None:
    """Without DISCORD_TOKEN: the local Discord and its page, and the worker and bot pointed at it."""
    url_file = settings.data_dir / "playground.url"
    url_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "local_discord", "--playground", "--host", LOOPBACK]
    command += [
        "--port",
        str(args.playground_port),
        "--token",
        PLAYGROUND_TOKEN,
        "--port-file",
        str(url_file),
        "--state-file",
        str(settings.data_dir / "playground.json"),
    ]
    child = spawn("playground", command, env)
    deadline = time.monotonic() + 20
    while not url_file.exists():
        if child.proc.poll() is not None or time.monotonic() > deadline or stopping.is_set():
            return child  # the main loop reports its exit
        await asyncio.sleep(0.05)
    api_base = url_file.read_text(encoding="utf-8").strip()
    env.update(
        DISCORD_TOKEN=PLAYGROUND_TOKEN,
        DISCORD_API_BASE=api_base,
        DISCORD_DEV_GUILD=str(PLAYGROUND_GUILD),
    )
    page = api_base.removesuffix(API_PREFIX)
    print(f"Playground     {page}  (a local Discord with the bot in it: act as host or player)")
    print("               to use Discord itself, put DISCORD_TOKEN=... in .env (README: Running the bot)")
    return child


def _secret_file(path: Path, make: Callable[[], str], what: str) -> str:
    """Read a secret kept in the data directory, creating it (mode 0600) the first time."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make() + "\n")
        print(f"generated {what} in {path}")
    return path.read_text().strip()


def ensure_encryption_key(settings: Settings, env: dict[str, str]) -> Path | None:
    """Without ENCRYPTION_KEYS, use (and once create) a key in the data directory; children get
    it through their environment. Returns the key file's path when one is used."""
    if settings.encryption_keys:
        return None
    path = settings.data_dir / KEY_FILE
    key = _secret_file(
        path,
        lambda: base64.b64encode(os.urandom(32)).decode(),
        "a new payload encryption key (keep it: without it, jobs cannot be read)",
    )
    try:
        size = len(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size not in (16, 24, 32):
        sys.exit(f"configuration error: {path}: not a base64 AES key; set ENCRYPTION_KEYS or remove the file")
    env["ENCRYPTION_KEYS"] = key
    return path


def ensure_whisper_key(settings: Settings, env: dict[str, str]) -> Path | None:
    """Without WHISPER_KEYS, use (and once create) a whisper key in the data directory, for the
    bot only: neither the worker nor the codec server reads it (stack/sealing.py)."""
    if settings.whisper_keys:
        return None
    path = settings.data_dir / WHISPER_KEY_FILE
    key = _secret_file(
        path,
        lambda: base64.b64encode(os.urandom(32)).decode(),
        "a new whisper key (keep it: without it, unread whispers cannot be opened)",
    )
    try:
        size = len(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size not in (16, 24, 32):
        sys.exit(f"configuration error: {path}: not a base64 AES key; set WHISPER_KEYS or remove the file")
    env["WHISPER_KEYS"] = key
    return path


def ensure_codec_token(settings: Settings, env: dict[str, str]) -> str:
    """Without CODEC_TOKEN, use (and once create) one in the data directory, so the local Web UI
    shows timer names and payloads decrypted out of the box. Both listen on 127.0.0.1 only."""
    if settings.codec_token is not None:
        return settings.codec_token.get_secret_value()
    token = _secret_file(
        settings.data_dir / TOKEN_FILE, lambda: secrets.token_urlsafe(32), "a codec server token"
    )
    env["CODEC_TOKEN"] = token
    return token


def spawn(name: str, args: list[str], env: dict[str, str]) -> Child:
    proc = subprocess.Popen(
        args,
        env=env,
        stdin=subprocess.DEVNULL,
        # Own session: the terminal's Ctrl-C reaches only us, and we stop children in order.
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    print(f"started {name} (pid {proc.pid})", flush=True)
    return Child(name, proc)


# How long a child gets after SIGTERM before SIGKILL: more than the worker's shutdown grace
# (worker.py SHUTDOWN_GRACE), so its running activities finish.
STOP_GRACE = 20.0


async def stop_child(child: Child, grace: float = STOP_GRACE) -> None:
    """SIGTERM (every child shuts down cleanly on it, as under docker compose), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if child.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.proc.pid, sig)
        deadline = time.monotonic() + wait
        while child.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


async def until_stopped(work: Coroutine[Any, Any, Any], stopping: asyncio.Event) -> bool:
    """Run `work` unless a stop is asked for first; True when it finished."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()  # re-raise its error
    return True


def _first_exit(children: list[Child], server: DevServer | None) -> str | None:
    for child in children:
        if child.proc.poll() is not None:
            return f"{child.name} (pid {child.proc.pid}) exited with code {child.proc.returncode}"
    if server is not None and not server.running:
        return f"the Temporal server exited with code {server.returncode} (log: {server.log_file})"
    return None


def dev_server(settings: Settings, args: argparse.Namespace) -> DevServer | None:
    """The dev server for TEMPORAL_ADDRESS, or None when that points at another machine."""
    target = connection(settings)
    host, _, port = target.address.rpartition(":")
    if host not in LOCAL_HOSTS:
        print(f"Temporal is at {target.address}: using that server, no dev server started")
        return None
    return DevServer(
        db_file=settings.data_dir / "temporal.sqlite",
        port=int(port),
        ui_port=args.ui_port,
        headless=args.headless,
        namespaces=[target.namespace],
        log_file=settings.data_dir / "temporal.log",
    )


def codec_command(token: str, server: DevServer | None) -> list[str] | None:
    """With a Web UI: the codec server's command (on the UI port + 1), and the UI pointed at it."""
    if server is None or server.ui_url is None:
        return None
    port = (server.ui_port or 0) + 1
    server.ui_codec_endpoint = codec_endpoint(token, port=port)
    module = [sys.executable, "-m", "stack.codec_server"]
    return [*module, "--host", LOOPBACK, "--port", str(port), "--origin", server.ui_url]


def worker_env(settings: Settings, env: dict[str, str], server: DevServer | None) -> dict[str, str]:
    """The worker's environment: not the whisper key, which it never reads (stack/settings.py
    PROCESS_FEATURES); and on our own dev server, unless WORKER_ROLLOUT says otherwise, its build
    made current at every start, so the code just started is the code that runs."""
    worker = {name: value for name, value in env.items() if name != "WHISPER_KEYS"}
    version = deployment_version(settings)
    if server is not None and "worker_rollout" not in settings.model_fields_set:
        worker["WORKER_ROLLOUT"] = "always"
    print(
        f"worker build   {version.build_id} of deployment {version.deployment_name}"
        " (README: Rolling out a new build)",
        flush=True,
    )
    return worker


def print_addresses(settings: Settings, server: DevServer) -> None:
    print(f"Temporal gRPC  {server.address}  (namespace {connection(settings).namespace}, pid {server.pid})")
    print(f"Web UI         {server.ui_url or 'off (--headless)'}")
    if server.ui_codec_endpoint:
        codec_url = server.ui_codec_endpoint.rsplit("/", 1)[0]
        print(f"codec server   {codec_url}  (the Web UI shows decrypted payloads)")
    print(f"state          {server.db_file}  (server log: {server.log_file})", flush=True)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ensure_encryption_key(settings, env)
    ensure_whisper_key(settings, env)
    worker_py = Path("worker.py")
    if not worker_py.is_file():
        sys.exit(f"error: worker.py not found in {Path.cwd()}: run `make run` from the project root")
    server = dev_server(settings, args)
    codec = codec_command(ensure_codec_token(settings, env), server)

    children: list[Child] = []
    stopping = asyncio.Event()

    def on_signal() -> None:
        if stopping.is_set():  # a second Ctrl-C: no more waiting
            print("killing everything now", file=sys.stderr)
            for pid in [c.proc.pid for c in children] + ([server.pid] if server and server.pid else []):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        stopping.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    status = 0
    try:
        if codec is not None:
            # The codec server opens payloads for operators: it never gets the whisper key.
            codec_env = {name: value for name, value in env.items() if name != "WHISPER_KEYS"}
            children.append(spawn("codec server", codec, codec_env))
        if server is not None:
            if not await until_stopped(server.start(), stopping):
                return 0
            print_addresses(settings, server)
        if settings.discord_token is None and not args.no_bot:
            playground = await start_playground(args, settings, env, stopping)
            if playground is not None:
                children.append(playground)
        children.append(spawn("worker", [sys.executable, str(worker_py)], worker_env(settings, env, server)))
        if args.no_bot:
            print(NO_BOT, flush=True)
        elif "DISCORD_TOKEN" in env or settings.discord_token is not None:
            children.append(spawn("bot", [sys.executable, "-m", "bot"], env))
        print("Ctrl-C stops everything", flush=True)
        while not stopping.is_set():
            exited = _first_exit(children, server)
            if exited:
                print(f"error: {exited}; stopping everything", file=sys.stderr, flush=True)
                status = 1
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 0.25)
    except DevServerError as err:
        print(f"error: {err}", file=sys.stderr)
        status = 1
    finally:
        for child in reversed(children):
            print(f"stopping {child.name} (pid {child.proc.pid})", flush=True)
            await stop_child(child)
        if server is not None and server.running:
            print(f"stopping the Temporal server (pid {server.pid})", flush=True)
            await server.stop()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    return asyncio.run(run(settings, args))
