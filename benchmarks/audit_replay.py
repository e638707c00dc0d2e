"""The auditor's replay rate and peak memory over a log of a million events or more.

    .venv/bin/python benchmarks/audit_replay.py --events 1000000

Writes a realistic log into fresh SQLite files (users, deposits, and completed
transfers: each transfer is 4 Transfers events and 2 Wallets events), then, in a
fresh process, replays both logs with the audit (every invariant checked after
every event) and prints events per second and the replaying process's peak RSS.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from application.audit import audit  # noqa: E402
from application.transfers import Transfers  # noqa: E402
from application.wallets import Wallets  # noqa: E402
from domain.money import Money  # noqa: E402
from domain.transfer import Transfer  # noqa: E402
from domain.wallet import Wallet  # noqa: E402

USERS = 1000
BATCH = 2000
DAY = "2026-11-27"


def env(directory: Path, name: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "infrastructure.sqlite_store",
        "SQLITE_DBNAME": str(directory / f"{name}.sqlite"),
        "SQLITE_SYNCHRONOUS": "OFF",
    }


def generate(directory: Path, events: int) -> int:
    wallets, transfers = (
        Wallets(env=env(directory, "wallets")),
        Transfers(env=env(directory, "transfers")),
    )
    settlement = Wallet.open_settlement("INR")
    users = [Wallet.open_user_wallet(uuid4(), "INR", f"u{n}@payflow", None) for n in range(USERS)]
    for wallet in users:
        deposit_id = uuid4()
        wallet.deposit(deposit_id, Money(10_000_000))
        settlement.fund_deposit(deposit_id, Money(10_000_000))
    wallets.save(settlement, *users)
    written, rng = 3 + USERS * 3, random.Random(7)
    while written < events:
        batch = []
        for _ in range(BATCH):  # debits first, committed before any of their credits
            sender, receiver = rng.sample(users, 2)
            amount = Money(rng.randrange(1, 5_000))
            transfer = Transfer.initiate(
                sender.owner_id, receiver.owner_id, sender.id, receiver.id, amount
            )
            sender.debit(transfer.id, amount, receiver.id, DAY)
            transfer.mark_debited()
            batch.append((transfer, receiver))
        wallets.save(*users)
        for transfer, receiver in batch:
            receiver.credit(transfer.id, transfer.amount, transfer.sender_wallet_id)
            transfer.mark_credited()
            transfer.complete()
        wallets.save(*users)
        transfers.save(*(transfer for transfer, _ in batch))
        written += BATCH * 6
    wallets.close()
    transfers.close()
    return written


def replay(directory: Path) -> None:
    wallets, transfers = (
        Wallets(env=env(directory, "wallets")),
        Transfers(env=env(directory, "transfers")),
    )
    started = time.perf_counter()
    report = audit(wallets, transfers, settled=True)
    took = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert report.ok, report.violations[:5]
    print(
        f"replayed {report.events_replayed} events in {took:.1f} s: "
        f"{report.events_replayed / took:,.0f} events/s, peak RSS {peak_mib:,.0f} MiB, "
        f"{len(report.balances)} wallets, {len(report.statuses)} transfers, invariants hold"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        replay(args.replay)
        return
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        written = generate(Path(directory), args.events)
        print(f"wrote {written} events in {time.perf_counter() - started:.1f} s")
        subprocess.run(  # a fresh process, so the peak memory is the replay's own
            [sys.executable, __file__, "--replay", directory], check=True
        )


if __name__ == "__main__":
    main()
