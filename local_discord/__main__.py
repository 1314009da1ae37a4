"""`python -m local_discord`: serve the local Discord until SIGTERM/SIGINT.

    python -m local_discord --playground --port 8235   # the playground guild and its web page
        [--state-file .data/playground.json]           # kept across restarts
    python -m local_discord --port-file PATH           # an empty one, for tests in another process

The base_url is written to PATH (atomically, so a poller never reads half a URL) once the port is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .playground import Playground
from .rest import FakeDiscord

log = logging.getLogger("local_discord")


class JsonLines(logging.Formatter):
    """LOG_FORMAT=json: one JSON object a line, with the fields the bot's and the worker's lines
    have (time, level, logger, message), so one log pipeline reads every process of `make run`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    options: dict[str, Any] = {"host": args.host, "port": args.port, "token": args.token}
    if args.playground:
        options["state_file"] = args.state_file
    kind = Playground if args.playground else FakeDiscord
    async with kind(**options) as fake:
        if args.port_file is not None:
            tmp = args.port_file.with_name(args.port_file.name + ".tmp")
            tmp.write_text(fake.base_url, encoding="utf-8")
            os.replace(tmp, args.port_file)
        what = "playground" if args.playground else "fake discord"
        log.info("%s listening on %s (API %s)", what, fake.url, fake.base_url)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_discord", description=__doc__)
    parser.add_argument("--playground", action="store_true", help="the playground guild and its page")
    parser.add_argument("--port-file", type=Path, help="write the base_url here once listening")
    parser.add_argument("--state-file", type=Path, help="with --playground: keep its world in this file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", help="the only bot token the gateway accepts (default: any)")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("LOG_FORMAT") or "text",
        help="text, or one JSON object a line (default: LOG_FORMAT, else text)",
    )
    args = parser.parse_args()
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
