"""`python -m adoption`: the operators' command line for imports and a server's export.

    python -m adoption castbot-jobs scheduledJobs.json --by <user id> [--guild <id>] [--dry-run]
    python -m adoption castbot-whispers data_whispers.json --guild <id> [--dry-run]
    python -m adoption epyc scheduled_jobs.json [--by <id>] [--guild <id>] [--channel <id>] [--dry-run]
    python -m adoption export --guild <id> [--output server.json]
    python -m adoption import server.json --guild <id> [--map <old id>=<new id> ...] [--dry-run]
    python -m adoption schema

It connects as every process does (the same `.env`: TEMPORAL_*, ENCRYPTION_KEYS, WHISPER_KEYS,
TEMPORAL_TASK_QUEUE), prints one line per entry (created, skipped or refused, with why) and a
summary, and exits 1 when an entry was refused, 0 otherwise. Run with `--dry-run` first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from adoption import castbot, epyc, server
from adoption.report import Report
from adoption.target import Target
from stack.process import exit_now
from stack.sealing import whisper_seal
from stack.settings import load_settings
from stack.temporal import connect


def discord_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and not text.startswith("0")):
        raise argparse.ArgumentTypeError(f"a Discord id is digits, not {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m adoption",
        description="Bring a running bot's scheduled jobs, whispers and season timers over, and move "
        "a server's data in and out. Try every import with --dry-run first: it changes nothing.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="command")

    def command(
        name: str, help: str, *, file: str | None = None, dry: bool = True
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        if file:
            sub.add_argument("file", type=Path, help=file)
        if dry:
            sub.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
        return sub

    jobs = command("castbot-jobs", "import CastBot's scheduledJobs.json", file="CastBot's scheduledJobs.json")
    jobs.add_argument("--guild", type=discord_id, help="import only this server's jobs")
    jobs.add_argument("--by", type=discord_id, help="the Discord user recorded as scheduling Safari rounds")
    whispers = command(
        "castbot-whispers",
        "import CastBot's data_whispers.json (unread whispers, sealed on the way in)",
        file="CastBot's data_whispers.json",
    )
    whispers.add_argument("--guild", type=discord_id, required=True, help="the server the whispers belong to")
    rows = command(
        "epyc",
        "import EPYC's ScheduledJob rows (a JSON list, or an object of tables by name)",
        file="the rows as JSON",
    )
    rows.add_argument(
        "--guild", type=discord_id, help="only this server; and the server of rows that name none"
    )
    rows.add_argument("--channel", type=discord_id, help="the channel of notices whose rows name none")
    rows.add_argument(
        "--by", type=discord_id, help="the Discord user recorded as scheduling what names nobody"
    )
    export = command("export", "write one server's export document", dry=False)
    export.add_argument("--guild", type=discord_id, required=True, help="the server to export")
    export.add_argument("--output", type=Path, help="the file to write (default: standard output)")
    restore = command(
        "import", "import a server's export document into this or another server", file="the export document"
    )
    restore.add_argument("--guild", type=discord_id, required=True, help="the server to import into")
    restore.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="a channel or role of the exported server, and the one here (repeat for each)",
    )
    command("schema", "print the export document's JSON schema", dry=False)
    return top


async def run(args: argparse.Namespace, target: Target, out: TextIO = sys.stdout) -> int:
    """Carry out the parsed command against `target`; the exit status."""
    if args.command == "export":
        document = server.to_json(await server.export_server(target, args.guild))
        if args.output is None:
            out.write(document)
        else:
            args.output.write_text(document, encoding="utf-8")
            print(f"wrote the export of server {args.guild} to {args.output}", file=out)
        return 0
    data, name = args.data, args.file.name
    report: Report
    if args.command == "castbot-jobs":
        report = await castbot.import_jobs(target, data, by=args.by, guild_id=args.guild, name=name)
    elif args.command == "castbot-whispers":
        report = await castbot.import_whispers(target, data, guild_id=args.guild, name=name)
    elif args.command == "epyc":
        fallback = epyc.Fallback(args.guild, args.channel, args.by)
        report = await epyc.import_rows(target, data, fallback, name=name)
    else:
        report = await server.import_server(target, data, guild_id=args.guild, ids=args.ids, name=name)
    print(report.text(), file=out)
    return 1 if report.count("refused") else 0


def checked_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments, with the file read and the id map parsed before anything connects."""
    top = parser()
    args = top.parse_args(argv)
    if getattr(args, "file", None) is not None:
        try:
            args.data = args.file.read_bytes()
        except OSError as err:
            top.error(f"cannot read {args.file}: {err.strerror}")
    if args.command == "import":
        try:
            args.ids = server.parse_ids(args.map)
        except ValueError as err:
            top.error(str(err))
    return args


async def connect_and_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    client = await connect(settings, identity=f"adoption@{socket.gethostname()}")
    dry_run = getattr(args, "dry_run", False)
    target = Target(client, settings.temporal_task_queue, dry_run=dry_run, seal=whisper_seal(settings))
    return await run(args, target)


def main(argv: Sequence[str] | None = None) -> None:
    args = checked_args(argv)
    if args.command == "schema":
        print(json.dumps(server.schema(), indent=2))
        exit_now(0)
    exit_now(asyncio.run(connect_and_run(args)))
