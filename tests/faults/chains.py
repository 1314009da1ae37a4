"""The fault campaign for challenge chains: chains of rounds post, continuing as new every two
rounds, while the worker is killed with -9 and the fake Discord answers 429 and 5xx bursts (some
500s after the message was already created). At the end every round's post exists exactly once
and every chain is done, each round recorded done.

    python -m tests.faults.chains --chains 20 --rounds 6 --worker-kills 4 --fault-bursts 6

`tests/faults/test_chains.py` runs a smaller one in CI. Every random choice (waits, channels, when
to kill the worker, burst sizes) comes from the seed, printed at the start and in the summary;
repeat a run with `FAULT_SEED=<seed>` (or `--seed`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from clients.challenges import Challenges
from local_discord import FakeDiscord
from stack.devserver import DevServer, free_port
from tests.faults.campaign import CHANNELS, GUILD, HOST, MESSAGES_PATH, SEED_ENV, Chaos, default_seed
from tests.support.temporal import connect_client
from tests.support.worker_process import WorkerProcess
from workflows.challenges_models import ChallengeResult, RoundAction, RoundSpec, challenge_id_for
from workflows.jobs_actions import POST_MESSAGE


@dataclass
class ChainPlan:
    chains: int = 8
    rounds: int = 4
    # Seconds between one round and the next (the first: after the chain starts, plus `lead`).
    gap: tuple[float, float] = (1.0, 4.0)
    lead: float = 6.0
    rounds_per_run: int = 2
    worker_kills: int = 2
    worker_outage: float = 2.0
    fault_bursts: int = 3
    seed: int = field(default_factory=default_seed)


@dataclass(frozen=True)
class ChainDraws:
    waits: tuple[tuple[float, ...], ...]  # per chain, per round
    channels: tuple[int, ...]  # per chain
    chaos: tuple[Chaos, ...]  # in time order, seconds after the chains start


def draw(plan: ChainPlan) -> ChainDraws:
    rng = random.Random(plan.seed)
    waits = tuple(
        tuple(rng.uniform(*plan.gap) + (plan.lead if n == 0 else 0) for n in range(plan.rounds))
        for _ in range(plan.chains)
    )
    channels = tuple(rng.choice(CHANNELS) for _ in range(plan.chains))
    span = max(sum(chain) for chain in waits)
    kinds = ["worker"] * plan.worker_kills + ["discord"] * plan.fault_bursts
    chaos = [
        Chaos(
            rng.uniform(plan.lead - 1, span),
            kind,
            (rng.randint(2, 6), rng.randint(2, 6), rng.randint(1, 3)) if kind == "discord" else (0, 0, 0),
        )
        for kind in kinds
    ]
    return ChainDraws(waits, channels, tuple(sorted(chaos, key=lambda c: c.at)))


@dataclass
class ChainOutcome:
    seed: int
    expected_posts: int
    missing: list[str]
    doubled: list[str]
    unexpected: list[str]
    # Chains not completed, or completed with a round not done (failed or skipped).
    not_done: list[str]
    worker_kills: int
    faults_fired: int
    seconds: float

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled or self.unexpected or self.not_done)

    def summary(self) -> str:
        return (
            f"{self.expected_posts} expected round posts: {len(self.missing)} missing, "
            f"{len(self.doubled)} doubled, {len(self.unexpected)} unexpected; "
            f"{len(self.not_done)} chains not done; {self.worker_kills} worker kills, "
            f"{self.faults_fired} injected Discord faults fired; {self.seconds:.0f} s; "
            f"repeat with {SEED_ENV}={self.seed}"
        )


def round_post(chain: int, number: int) -> str:
    return f"chain {chain} round {number}"


async def _chaos(
    plan: ChainPlan, draws: ChainDraws, worker: WorkerProcess, fake: FakeDiscord, start: float
) -> int:
    kills = 0
    for event in draws.chaos:
        await asyncio.sleep(max(0.0, start + event.at - time.monotonic()))
        if event.what == "worker":
            worker.kill()
            kills += 1
            await asyncio.sleep(plan.worker_outage)
            worker.start()
            await worker.wait_started(timeout=60)
        else:
            too_many, unavailable, lost = event.bursts
            fake.inject("POST", MESSAGES_PATH, 429, times=too_many, retry_after=0.2)
            fake.inject("POST", MESSAGES_PATH, 503, times=unavailable)
            # Discord created the message, then the reply was lost: only the nonce prevents a double.
            fake.inject("POST", MESSAGES_PATH, 500, times=lost, lose_response=True)
    return kills


async def _results(server: DevServer, chain_ids: list[str], timeout: float) -> list[ChallengeResult | None]:
    """Each chain's result once every chain is closed (None for one still running at the end)."""
    client = await connect_client(server)
    end = time.monotonic() + timeout
    while True:
        statuses = [(await client.get_workflow_handle(i).describe()).status for i in chain_ids]
        if all(s != WorkflowExecutionStatus.RUNNING for s in statuses) or time.monotonic() > end:
            break
        await asyncio.sleep(1.0)
    return [
        await client.get_workflow_handle(i, result_type=ChallengeResult).result()
        if status == WorkflowExecutionStatus.COMPLETED
        else None
        for i, status in zip(chain_ids, statuses, strict=True)
    ]


async def run_chains(plan: ChainPlan, workdir: Path) -> ChainOutcome:
    draws = draw(plan)
    print(f"chain fault campaign seed {plan.seed} (repeat with {SEED_ENV}={plan.seed})", flush=True)
    began = time.monotonic()
    async with (
        DevServer(db_file=workdir / "temporal.sqlite", port=free_port(), headless=True) as server,
        FakeDiscord() as fake,
    ):
        for channel in CHANNELS:
            fake.add_channel(channel, GUILD)
        worker = WorkerProcess(
            temporal_address=server.address,
            task_queue=f"faults-{uuid.uuid4().hex[:8]}",
            discord_api_base=fake.base_url,
            log_dir=workdir,
        )
        worker.start()
        try:
            await worker.wait_started()
            chains = Challenges(await connect_client(server), worker.env["TEMPORAL_TASK_QUEUE"])
            start = time.monotonic()
            chain_ids = []
            for index, waits in enumerate(draws.waits):
                rounds = [
                    RoundSpec(
                        name=f"Round {number}",
                        after=timedelta(seconds=wait),
                        actions=[
                            RoundAction(action=POST_MESSAGE, payload={"content": round_post(index, number)})
                        ],
                    )
                    for number, wait in enumerate(waits, start=1)
                ]
                await chains.create(
                    key=f"faults-{index}",
                    title=f"Chain {index}",
                    guild_id=GUILD,
                    channel_id=draws.channels[index],
                    host_id=HOST,
                    rounds=rounds,
                    rounds_per_run=plan.rounds_per_run,
                )
                chain_ids.append(challenge_id_for(GUILD, f"faults-{index}"))
            kills = await _chaos(plan, draws, worker, fake, start)
            span = max(sum(waits) for waits in draws.waits)
            results = await _results(server, chain_ids, timeout=span + 120)
        finally:
            worker.stop()

        # A round's post is its text under the line naming the chain and the round.
        posted = Counter(m.content.rpartition("\n")[2] for m in fake.messages())
        expected = [round_post(c, n) for c in range(plan.chains) for n in range(1, plan.rounds + 1)]
        fake.assert_no_violations()
        return ChainOutcome(
            seed=plan.seed,
            expected_posts=len(expected),
            missing=[p for p in expected if posted[p] == 0],
            doubled=[p for p in expected if posted[p] > 1],
            unexpected=sorted(set(posted) - set(expected)),
            not_done=[
                chain_id
                for chain_id, result in zip(chain_ids, results, strict=True)
                if result is None
                or result.outcome != "done"
                or [r.outcome for r in result.rounds] != ["done"] * plan.rounds
            ],
            worker_kills=kills,
            faults_fired=sum(f.fired for f in fake.faults()),
            seconds=time.monotonic() - began,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = ChainPlan()
    parser.add_argument("--chains", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--worker-kills", type=int, default=4)
    parser.add_argument("--fault-bursts", type=int, default=6)
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"default: ${SEED_ENV}, else random")
    args = parser.parse_args()
    plan = ChainPlan(
        chains=args.chains,
        rounds=args.rounds,
        worker_kills=args.worker_kills,
        fault_bursts=args.fault_bursts,
        seed=args.seed,
    )
    print(f"chain fault campaign: {plan}")
    with tempfile.TemporaryDirectory(prefix="chain-fault-campaign-") as workdir:
        outcome = asyncio.run(run_chains(plan, Path(workdir)))
    print(outcome.summary())
    for label, items in (
        ("missing", outcome.missing),
        ("doubled", outcome.doubled),
        ("unexpected", outcome.unexpected),
        ("not done", outcome.not_done),
    ):
        if items:
            print(f"{label}: {items[:20]}")
    raise SystemExit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
