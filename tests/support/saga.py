"""Driving the saga by hand: one step at a time, so tests can stop it anywhere."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.audit import AuditReport, audit, compare_balances
from application.saga import Ledger
from application.service import PayFlow
from domain.money import Money
from tests.support.fakes import PlainHasher


def payflow_on(ledger: Ledger) -> PayFlow:
    return PayFlow(ledger.accounts, ledger.wallets, ledger.transfers, PlainHasher())


def step_once(ledger: Ledger) -> bool:
    """Process the oldest pending saga notification, if any; True if one was processed."""
    for follower, leader in ledger.followers:
        done = follower.recorder.max_tracking_id(leader.name) or 0
        pending = leader.recorder.select_notifications(
            start=done + 1, limit=1, topics=follower.topics
        )
        if pending:
            follower.pull_and_process(leader.name, stop=pending[0].id)
            return True
    return False


def checked_audit(ledger: Ledger, settled: bool = True) -> AuditReport:
    """Audit the ledger, and compare replayed balances with the loaded wallets."""
    report = audit(ledger.wallets, ledger.transfers, settled=settled)
    report.violations.extend(compare_balances(report, ledger.wallets))
    return report


def asha_and_ravi(ledger: Ledger, deposit: str = "100") -> tuple[UUID, UUID]:
    """Two registered users; Asha has paid ``deposit`` rupees in."""
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse(deposit))
    return asha, ravi


def record_calls(obj: Any, name: str) -> list[tuple[Any, ...]]:
    """Replace ``obj.name`` by a wrapper that notes the positional arguments of each
    call (and still makes it); the list of those is returned."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(obj, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    setattr(obj, name, recorded)
    return calls
