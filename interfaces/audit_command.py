"""``payflow audit``: replay the logs, check the invariants, compare with the read models.

The read models are first brought up to date, then read in one consistent
snapshot; the logs are replayed exactly up to the positions that snapshot had
reached, so a live system can be audited without stopping it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any, TextIO

from tqdm import tqdm

from application.audit import AuditReport, audit
from domain.money import Money
from interfaces.bootstrap import Container
from projections.store import ReadSnapshot


def run_audit(
    container: Container, as_json: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Audit the deployment; 0 when everything holds, 1 when anything does not."""
    ledger, projector = container.ledger, container.projector
    projector.catch_up()
    snapshot = projector.store.snapshot([ledger.wallets.name, ledger.transfers.name])
    with tqdm(
        total=sum(snapshot.positions.values()),
        desc="Replaying",
        unit="event",
        file=err,
        disable=not err.isatty(),
    ) as bar:
        report = audit(
            ledger.wallets,
            ledger.transfers,
            settled=False,
            upto=snapshot.positions,
            progress=bar.update,
        )
    differences = compare(report, snapshot)
    summary = summarise(report, snapshot, differences)
    out.write(json.dumps(summary, indent=2) + "\n" if as_json else as_text(summary))
    return 0 if summary["ok"] else 1


def compare(report: AuditReport, snapshot: ReadSnapshot) -> list[str]:
    """Where the read models disagree with the replay of the same positions."""
    differences = []
    replayed = {wallet_id.hex: balance for wallet_id, balance in report.balances.items()}
    for wallet_id in sorted(replayed.keys() | snapshot.balances.keys()):
        mine, theirs = replayed.get(wallet_id), snapshot.balances.get(wallet_id)
        if mine != theirs:
            differences.append(
                f"wallet {wallet_id}: the events give {_minor(mine)}, "
                f"the read model shows {_minor(theirs)}"
            )
    statuses = {transfer_id.hex: s.value for transfer_id, s in report.statuses.items()}
    for transfer_id in sorted(statuses.keys() | snapshot.statuses.keys()):
        mine_s, theirs_s = statuses.get(transfer_id), snapshot.statuses.get(transfer_id)
        if mine_s != theirs_s:
            differences.append(
                f"transfer {transfer_id}: the events say {mine_s}, the read model says {theirs_s}"
            )
    return differences


def summarise(
    report: AuditReport,
    snapshot: ReadSnapshot,
    differences: list[str],
) -> dict[str, Any]:
    user_total = report.user_total
    settlement = sum(report.balances.values()) - user_total
    return {
        "ok": report.ok and not differences,
        "eventsReplayed": report.events_replayed,
        "positions": snapshot.positions,
        "wallets": len(report.balances),
        "transfers": dict(Counter(s.value for s in report.statuses.values())),
        "userBalances": _minor(user_total),
        "inFlight": _minor(sum(report.in_flight.values())),
        "settlement": _minor(settlement),
        "violations": report.violations,
        "readModelDifferences": differences,
    }


def as_text(summary: dict[str, Any]) -> str:
    positions = ", ".join(f"{name} to position {at}" for name, at in summary["positions"].items())
    transfers = ", ".join(f"{n} {status}" for status, n in sorted(summary["transfers"].items()))
    lines = [
        f"PayFlow audit: replayed {summary['eventsReplayed']} events ({positions})",
        f"  wallets:        {summary['wallets']}",
        f"  transfers:      {transfers or 'none'}",
        f"  user balances:  {summary['userBalances']}",
        f"  in flight:      {summary['inFlight']}",
        f"  settlement:     {summary['settlement']}",
        "  invariants:     "
        + (
            "all five hold" if not summary["violations"] else f"{len(summary['violations'])} broken"
        ),
    ]
    lines += [f"    - {v}" for v in summary["violations"]]
    diffs = summary["readModelDifferences"]
    lines.append(
        "  read models:    " + ("match the events" if not diffs else f"{len(diffs)} differ")
    )
    lines += [f"    - {d}" for d in diffs]
    lines.append("RESULT: " + ("OK" if summary["ok"] else "FAILED"))
    return "\n".join(lines) + "\n"


def _minor(amount: int | None) -> str:
    return "missing" if amount is None else f"{Money(amount).to_decimal():.2f}"
