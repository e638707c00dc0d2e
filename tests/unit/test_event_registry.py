"""Every event class a log can hold is handled or knowingly ignored by each component
that follows that log: the saga's writers, the webhook scheduler, the audit and the
projector. A new event that one of them forgot fails here, not in production."""

from __future__ import annotations

from typing import Any

import pytest

from application import audit
from application.events import (
    AUDIT_MOVEMENTS,
    AUDIT_TRANSFERS,
    LOGS,
    TRANSFER_STEPS,
    WALLET_STEPS,
    WEBHOOK_SCHEDULING,
    Reaction,
    events_of,
)
from application.transfers import Transfers
from application.wallets import Wallets
from application.webhooks import EVENTS_OF, Webhooks
from domain.deposit import Deposit
from domain.transfer import Transfer
from domain.wallet import Wallet
from projections import projector

REACTIONS = {
    "Wallets' saga steps": WALLET_STEPS,
    "Transfers' saga steps": TRANSFER_STEPS,
    "webhook scheduling": WEBHOOK_SCHEDULING,
    "audit of balances": AUDIT_MOVEMENTS,
    "audit of transfers": AUDIT_TRANSFERS,
}


@pytest.mark.parametrize("name", REACTIONS)
def test_each_component_classifies_every_event_of_the_log_it_follows(name: str) -> None:
    reaction: Reaction = REACTIONS[name]
    assert reaction.handles | reaction.ignores == LOGS[reaction.follows]
    assert not reaction.handles & reaction.ignores


def test_the_registry_finds_the_events_each_aggregate_records() -> None:
    assert Wallet.Debited in LOGS["Wallets"]
    assert Deposit.Recorded in LOGS["Wallets"]  # type: ignore[attr-defined]
    assert Transfer.Initiated in LOGS["Transfers"]
    assert not any(kind.__name__ in ("Event", "Created") for kind in events_of(Wallet))


def policies_of(app: type[Any]) -> set[type[Any]]:
    registry = app.__dict__["policy"].dispatcher.registry
    return {kind for kind in registry if kind is not object}


@pytest.mark.parametrize(
    ("app", "reaction"), [(Wallets, WALLET_STEPS), (Transfers, TRANSFER_STEPS)]
)
def test_the_saga_selects_and_has_a_policy_for_exactly_what_it_handles(
    app: type[Any], reaction: Reaction
) -> None:
    assert set(app.topics) == set(reaction.topics)
    assert policies_of(app) == reaction.handles


def test_the_webhook_scheduler_tells_of_every_transfer_event() -> None:
    assert set(Webhooks.topics) == set(WEBHOOK_SCHEDULING.topics)
    assert set(EVENTS_OF) == WEBHOOK_SCHEDULING.handles


def test_the_audit_replays_the_movements_and_transfer_events_it_handles() -> None:
    assert set(audit.MOVEMENTS) | {Wallet.Opened} == AUDIT_MOVEMENTS.handles
    assert set(audit.STATUS_AFTER) | {Transfer.Initiated} == AUDIT_TRANSFERS.handles


@pytest.mark.parametrize("log", ["Transfers", "Wallets", "Webhooks"])
def test_the_projector_shows_or_knowingly_ignores_every_event(log: str) -> None:
    shown = set(projector.writes_for.registry) & LOGS[log]
    ignored = projector.IGNORED & LOGS[log]
    assert shown | ignored == LOGS[log]
    assert not shown & ignored
