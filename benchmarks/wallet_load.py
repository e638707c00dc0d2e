"""How long a wallet with many events takes to load: from a snapshot, and by full replay.

    .venv/bin/python benchmarks/wallet_load.py --events 100000

Builds one wallet with N deposit events in a fresh SQLite file (written in batches,
synchronous=OFF, since only loading is measured), then loads it in a fresh process
state (no aggregate cache) many times each way and prints the medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from eventsourcing.application import Repository

from application.wallets import Wallets
from domain.money import Money
from domain.wallet import Wallet

BATCH = 1000


def build(path: Path, events: int) -> tuple[Wallets, Wallet]:
    env = {
        "PERSISTENCE_MODULE": "infrastructure.sqlite_store",
        "SQLITE_DBNAME": str(path),
        "SQLITE_SYNCHRONOUS": "OFF",
    }
    wallets = Wallets(env=env)
    wallet = Wallet.open_user_wallet(uuid4(), "INR", "bench@payflow", None)
    while wallet.version < events:
        for _ in range(min(BATCH, events - wallet.version)):
            wallet.deposit(uuid4(), Money(1))
        wallets.save(wallet)
    return wallets, wallet


def median_ms(load: object, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        load()  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        wallets, wallet = build(Path(directory) / "wallets.sqlite", args.events)
        print(
            f"built a wallet with {wallet.version} events in {time.perf_counter() - started:.1f} s"
        )
        replay_only = Repository(wallets.events)  # the same store, no snapshots, no cache

        def from_snapshot() -> None:
            assert (
                wallets.repository.get(wallet.id, deepcopy_from_cache=False).version
                == wallet.version
            )

        def full_replay() -> None:
            assert replay_only.get(wallet.id).version == wallet.version

        wallets.repository.cache = None  # measure loading, not the in-memory cache
        snap = median_ms(from_snapshot, args.runs * 10)
        full = median_ms(full_replay, args.runs)
        print(f"load from latest snapshot: {snap:9.2f} ms (median of {args.runs * 10})")
        print(f"load by full replay:       {full:9.2f} ms (median of {args.runs})")
        print(f"snapshot load is {full / snap:.0f}x faster")
        wallets.close()


if __name__ == "__main__":
    main()
