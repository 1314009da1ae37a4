"""The fault campaign: many jobs with reminders, and scheduled Custom Actions that pay Safari
currency and post through a webhook, fire while the worker is killed with -9 several times, the
dev server once or more, and the fake Discord answers 429 and 5xx bursts (some 500s after the
message or webhook post was already made). At the end every expected post exists exactly once,
every currency change was applied once, no webhook of ours is left but the one kept per channel,
and every workflow is completed.

    python -m tests.faults.campaign --jobs 400 --actions 40 --window 90 --worker-kills 4 --server-kills 1

`tests/faults/test_campaign.py` runs a smaller one in CI. Every random choice (deadlines, channels,
when to kill what, burst sizes) comes from the plan's seed, printed at the start and in the summary;
repeat a run with `FAULT_SEED=<seed>` (or `--seed`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from activities.custom_actions import KEPT_WEBHOOK_NAME
from clients.custom_actions import CustomActions
from clients.jobs import Jobs
from local_discord import FakeDiscord
from stack.devserver import DevServer, free_port
from tests.support.temporal import connect_client
from tests.support.worker_process import WorkerProcess
from workflows.custom_actions_models import ActionDefinition, CurrencyOutcome, TextOutcome
from workflows.jobs_models import JobResult, Reminder
from workflows.safari_engine import player_key

GUILD, HOST = 9001, 9002
CHANNELS = (9101, 9102, 9103, 9104)
REMINDERS = [
    Reminder(offset=timedelta(seconds=6), message="6 seconds"),
    Reminder(offset=timedelta(seconds=4), message="4 seconds"),
    Reminder(offset=timedelta(seconds=2), message="2 seconds"),
]
MESSAGES_PATH = r"^/channels/\d+/messages$"
EXECUTE_PATH = r"^/webhooks/\d+/[^/]+$"
WEBHOOKS_PATH = r"^/channels/\d+/webhooks$"
# Scheduled Custom Actions: one player each (ids from PLAYERS on), each starting with BALANCE and
# paid PAY once by its run.
PLAYERS, BALANCE, PAY = 9500, 100, 7
SEED_ENV = "FAULT_SEED"


def default_seed() -> int:
    """``FAULT_SEED`` if set (to repeat a run), else a fresh random seed."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return random.randrange(1_000_000)
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an integer, not {raw!r}") from None


@dataclass
class Plan:
    jobs: int = 60
    window: float = 20.0  # deadlines spread over this many seconds
    lead: float = 10.0  # the first deadline comes this long after scheduling ends
    worker_kills: int = 2
    worker_outage: float = 2.0
    server_kills: int = 1
    server_outage: float = 3.0
    fault_bursts: int = 4
    actions: int = 0  # scheduled Custom Actions, with deadlines in the same window
    seed: int = field(default_factory=default_seed)


@dataclass(frozen=True)
class Chaos:
    at: float  # seconds after the chaos window opens
    what: str  # "worker", "server" or "discord"
    bursts: tuple[int, int, int] = (0, 0, 0)  # for "discord": how many 429s, 503s, lost 500s


@dataclass(frozen=True)
class Draws:
    """Everything the seed decides, drawn before anything runs so that a seed repeats a run."""

    deadlines: tuple[float, ...]  # per job, seconds after the first possible deadline
    channels: tuple[int, ...]  # per job
    chaos: tuple[Chaos, ...]  # in time order
    action_deadlines: tuple[float, ...] = ()  # per Custom Action, as for jobs
    action_channels: tuple[int, ...] = ()


def draw(plan: Plan) -> Draws:
    rng = random.Random(plan.seed)
    deadlines = tuple(rng.uniform(0, plan.window) for _ in range(plan.jobs))
    channels = tuple(rng.choice(CHANNELS) for _ in range(plan.jobs))
    span = plan.window + 6  # from the first reminders to the last deadline
    kinds = ["worker"] * plan.worker_kills + ["server"] * plan.server_kills + ["discord"] * plan.fault_bursts
    chaos = [
        Chaos(
            rng.uniform(0, span),
            kind,
            (rng.randint(2, 6), rng.randint(2, 6), rng.randint(1, 3)) if kind == "discord" else (0, 0, 0),
        )
        for kind in kinds
    ]
    # Drawn last, so a seed draws the same jobs and chaos whether or not actions are planned.
    action_deadlines = tuple(rng.uniform(0, plan.window) for _ in range(plan.actions))
    action_channels = tuple(rng.choice(CHANNELS) for _ in range(plan.actions))
    return Draws(
        deadlines, channels, tuple(sorted(chaos, key=lambda c: c.at)), action_deadlines, action_channels
    )


@dataclass
class Outcome:
    seed: int
    expected_posts: int
    missing: list[str]
    doubled: list[str]
    unexpected: list[str]
    not_completed: list[str]
    # Reminders the jobs recorded as skipped or failed (due in an outage, past their last moment):
    # never posted, and never silently gone.
    not_sent: list[str]
    # Of those, posted all the same: Discord took the post but its answer never reached the job
    # (the worker killed just after, or the answer lost and the retry past the last moment). A
    # job looks in the channel before it records a reminder not sent, so this stays empty.
    posted_unrecorded: list[str]
    worker_kills: int
    server_kills: int
    faults_fired: int
    seconds: float
    # Scheduled Custom Actions: posts expected (one per action), players whose balance is not
    # BALANCE + PAY, and channels holding any webhook of ours but the one kept.
    action_posts: int = 0
    balances_wrong: list[str] = field(default_factory=list)
    webhooks_left: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.doubled
            or self.unexpected
            or self.not_completed
            or self.posted_unrecorded
            or self.balances_wrong
            or self.webhooks_left
        )

    def summary(self) -> str:
        return (
            f"{self.expected_posts} expected posts: {len(self.missing)} missing, "
            f"{len(self.doubled)} doubled, "
            f"{len(self.unexpected)} unexpected, {len(self.not_sent)} reminders recorded as not sent "
            f"({len(self.posted_unrecorded)} of them posted all the same); "
            f"{len(self.not_completed)} workflows not completed; {self.action_posts} Custom Action posts "
            f"expected, {len(self.balances_wrong)} balances wrong, {len(self.webhooks_left)} channels "
            f"with webhooks left; "
            f"{self.worker_kills} worker kills, {self.server_kills} server kills, "
            f"{self.faults_fired} injected Discord faults fired; {self.seconds:.0f} s; "
            f"repeat with {SEED_ENV}={self.seed}"
        )


def action_post(index: int) -> str:
    """The first line of a Custom Action's post (it names its player, one per action)."""
    return f"⏰ <@{PLAYERS + index}>'s scheduled action **Bounty**"


def reminder_post(index: int, message: str) -> str:
    return f"⏰ **job {index}** in {message}"


def expected_posts(index: int) -> list[str]:
    return [reminder_post(index, r.message) for r in REMINDERS] + [f"job {index} done"]


async def recorded_outcomes(server: DevServer, job_ids: list[str]) -> list[JobResult | None]:
    """Each job's result (None while it runs): what it says happened to each reminder."""
    client = await connect_client(server)
    results: list[JobResult | None] = []
    for job_id in job_ids:
        handle = client.get_workflow_handle(job_id, result_type=JobResult)
        described = await handle.describe()
        results.append(
            await handle.result() if described.status == WorkflowExecutionStatus.COMPLETED else None
        )
    return results


def _post_key(content: str) -> str:
    return content.split(" (<t:")[0]  # reminders end with the deadline as Discord timestamps


async def _chaos(
    plan: Plan, draws: Draws, server: DevServer, worker: WorkerProcess, fake: FakeDiscord, start: float
) -> tuple[int, int]:
    """Kill things at the drawn moments (seconds after ``start``, a monotonic time)."""
    worker_kills = server_kills = 0
    for event in draws.chaos:
        await asyncio.sleep(max(0.0, start + event.at - time.monotonic()))
        if event.what == "worker":
            worker.kill()
            worker_kills += 1
            await asyncio.sleep(plan.worker_outage)
            await worker.start_and_wait()
        elif event.what == "server":
            server.kill()
            server_kills += 1
            await asyncio.sleep(plan.server_outage)
            await server.restart()
        else:
            too_many, unavailable, lost = event.bursts
            fake.inject("POST", MESSAGES_PATH, 429, times=too_many, retry_after=0.2)
            fake.inject("POST", MESSAGES_PATH, 503, times=unavailable)
            # Discord created the message, then the reply was lost: only the nonce prevents a double.
            fake.inject("POST", MESSAGES_PATH, 500, times=lost, lose_response=True)
            if plan.actions:
                # The same on webhook posts, which carry no nonce; and on creating a webhook.
                fake.inject("POST", EXECUTE_PATH, 429, times=too_many, retry_after=0.2)
                fake.inject("POST", EXECUTE_PATH, 503, times=unavailable)
                fake.inject("POST", EXECUTE_PATH, 500, times=lost, lose_response=True)
                fake.inject("POST", WEBHOOKS_PATH, 500, times=1, lose_response=True)
    return worker_kills, server_kills


async def _wait_all_completed(server: DevServer, job_ids: list[str], timeout: float) -> list[str]:
    end = time.monotonic() + timeout
    pending = list(job_ids)
    while pending and time.monotonic() < end:
        try:
            client = await connect_client(server)
            still = []
            for job_id in pending:
                described = await client.get_workflow_handle(job_id).describe()
                if described.status != WorkflowExecutionStatus.COMPLETED:
                    still.append(job_id)
            pending = still
        except Exception:  # the server may be restarting; look again
            pass
        if pending:
            await asyncio.sleep(1.0)
    return pending


async def run(plan: Plan, workdir: Path) -> Outcome:
    draws = draw(plan)
    print(f"fault campaign seed {plan.seed} (repeat with {SEED_ENV}={plan.seed})", flush=True)
    began = time.monotonic()
    async with (
        DevServer(db_file=workdir / "temporal.sqlite", port=free_port(), headless=True) as server,
        FakeDiscord() as fake,
    ):
        for channel in CHANNELS:
            fake.add_channel(channel, GUILD)
        async with WorkerProcess(
            temporal_address=server.address,
            task_queue=f"faults-{uuid.uuid4().hex[:8]}",
            discord_api_base=fake.base_url,
            log_dir=workdir,
        ) as worker:
            client, queue = await connect_client(server), worker.task_queue
            jobs = Jobs(client, queue)
            actions = CustomActions(client, queue, jobs)
            bounty = await _bounty(actions, plan) if plan.actions else None
            # Scheduling takes a moment too.
            first = time.monotonic() + plan.lead + plan.jobs * 0.02 + plan.actions * 0.05
            job_ids = []
            for index in range(plan.jobs):
                due_in = first + draws.deadlines[index] - time.monotonic()
                job_ids.append(
                    await jobs.schedule(
                        "post_message",
                        {"content": f"job {index} done"},
                        guild_id=GUILD,
                        channel_id=draws.channels[index],
                        scheduled_by=HOST,
                        delay=timedelta(seconds=due_in),
                        reminders=REMINDERS,
                        description=f"job {index}",
                    )
                )
            action_ids = []
            for index in range(plan.actions):
                assert bounty is not None
                due_in = first + draws.action_deadlines[index] - time.monotonic()
                task = await actions.schedule(
                    bounty,
                    guild_id=GUILD,
                    channel_id=draws.action_channels[index],
                    by=PLAYERS + index,
                    delay=timedelta(seconds=due_in),
                )
                action_ids.append(task.job_id)
            chaos_start = first - 6  # the first reminders
            worker_kills, server_kills = await _chaos(plan, draws, server, worker, fake, chaos_start)
            not_completed = await _wait_all_completed(server, job_ids + action_ids, timeout=plan.window + 120)
            balances_wrong = await _balances_wrong(actions, plan)

        posted = Counter(_post_key(m.content) for m in fake.messages() if m.webhook_id is None)
        action_posted = Counter(
            str(m.components[0].get("content", "")).split("\n")[0]
            for m in fake.messages()
            if m.webhook_id is not None and m.components
        )
        expected_actions = [action_post(index) for index in range(plan.actions)]
        # A reminder recorded skipped or failed must not have been posted; everything else must
        # have been, once: the action, and each reminder recorded as sent.
        not_sent = [
            reminder_post(index, record.message)
            for index, result in enumerate(await recorded_outcomes(server, job_ids))
            if result is not None
            for record in result.reminders
            if record.outcome != "sent"
        ]
        expected = [
            post for index in range(plan.jobs) for post in expected_posts(index) if post not in not_sent
        ]
        fake.assert_no_violations()
        return Outcome(
            seed=plan.seed,
            expected_posts=len(expected) + len(expected_actions),
            missing=[p for p in expected if posted[p] == 0]
            + [p for p in expected_actions if action_posted[p] == 0],
            doubled=[p for p in [*expected, *not_sent] if posted[p] > 1]
            + [p for p in expected_actions if action_posted[p] > 1],
            unexpected=sorted(set(posted) - set(expected) - set(not_sent))
            + sorted(set(action_posted) - set(expected_actions)),
            not_completed=not_completed,
            not_sent=not_sent,
            posted_unrecorded=[p for p in not_sent if posted[p] == 1],
            worker_kills=worker_kills,
            server_kills=server_kills,
            faults_fired=sum(f.fired for f in fake.faults()),
            seconds=time.monotonic() - began,
            action_posts=len(expected_actions),
            balances_wrong=balances_wrong,
            webhooks_left=_webhooks_left(fake),
        )


async def _bounty(actions: CustomActions, plan: Plan) -> ActionDefinition:
    """The action every Custom Action job runs, and a player per job with BALANCE in the Safari."""
    created = await actions.create(GUILD, "Bounty", by=HOST)
    outcomes = [CurrencyOutcome(amount=PAY), TextOutcome(text="Paid for the hunt.")]
    safari = await actions.safari(GUILD)
    for index in range(plan.actions):
        await safari.set(player_key(PLAYERS + index), {"balance": BALANCE, "name": "p", "joined_round": 1})
    return await actions.edit(GUILD, created.id, lambda d: d.model_copy(update={"outcomes": outcomes}))


async def _balances_wrong(actions: CustomActions, plan: Plan) -> list[str]:
    """Players not paid exactly once: `<@id>: balance`."""
    if not plan.actions:
        return []
    safari = await actions.safari(GUILD)
    wrong = []
    for index in range(plan.actions):
        record = await safari.get(player_key(PLAYERS + index))
        balance = record.get("balance") if isinstance(record, dict) else None
        if balance != BALANCE + PAY:
            wrong.append(f"<@{PLAYERS + index}>: {balance}")
    return wrong


def _webhooks_left(fake: FakeDiscord) -> list[str]:
    """Channels holding a webhook of ours other than the one kept there."""
    left = []
    for channel in CHANNELS:
        ours = [w for w in fake.webhooks() if w.channel_id == channel and w.application_id and not w.deleted]
        if len(ours) > 1 or any(w.name != KEPT_WEBHOOK_NAME for w in ours):
            left.append(f"{channel}: {[w.name for w in ours]}")
    return left


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Plan()
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--actions", type=int, default=40)
    parser.add_argument("--window", type=float, default=90.0)
    parser.add_argument("--worker-kills", type=int, default=4)
    parser.add_argument("--server-kills", type=int, default=1)
    parser.add_argument("--fault-bursts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"default: ${SEED_ENV}, else random")
    args = parser.parse_args()
    plan = Plan(
        jobs=args.jobs,
        window=args.window,
        worker_kills=args.worker_kills,
        server_kills=args.server_kills,
        fault_bursts=args.fault_bursts,
        actions=args.actions,
        seed=args.seed,
    )
    print(f"fault campaign: {plan}")
    with tempfile.TemporaryDirectory(prefix="fault-campaign-") as workdir:
        outcome = asyncio.run(run(plan, Path(workdir)))
    print(outcome.summary())
    for label, items in (
        ("missing", outcome.missing),
        ("doubled", outcome.doubled),
        ("unexpected", outcome.unexpected),
        ("not completed", outcome.not_completed),
        ("balances wrong", outcome.balances_wrong),
        ("webhooks left", outcome.webhooks_left),
    ):
        if items:
            print(f"{label}: {items[:20]}")
    raise SystemExit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
