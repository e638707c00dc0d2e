"""One registry of the ledger's events: which log holds each, and who acts on it.

Each component that follows a log names every event class that log can hold,
either as one it acts on or as one it knowingly ignores: the saga's two writers
(Wallets follows Transfers, Transfers follows Wallets), the webhook scheduler
(which transfer events the parties are told of), and the audit. The projector
keeps the same two lists beside its statements (``projections/projector.py``,
which may not import this layer). ``tests/unit/test_event_registry.py`` fails
when an event class is added that some component neither handles nor ignores,
so a new event cannot silently slip past the saga, the read models or the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.utils import get_topic

from domain.deposit import Deposit
from domain.transfer import Transfer
from domain.wallet import Wallet
from domain.webhook import Delivery, Webhook, WebhookBook

EventClass = type[Any]


def events_of(*aggregates: type[Any]) -> frozenset[EventClass]:
    """The event classes the aggregates record (not their generic ``Event``/``Created``)."""
    return frozenset(
        value
        for aggregate in aggregates
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, aggregate.Event)
        and name not in ("Event", "Created")
    )


# The logs the ledger's components follow, and the aggregates whose events each holds.
LOGS: dict[str, frozenset[EventClass]] = {
    "Transfers": events_of(Transfer),
    "Wallets": events_of(Wallet, Deposit),
    "Webhooks": events_of(WebhookBook, Webhook, Delivery),
}


@dataclass(frozen=True)
class Reaction:
    """What one component does with the events of the log it follows."""

    follows: str
    handles: frozenset[EventClass]
    ignores: frozenset[EventClass]

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics to select from the log: the handled events, in a stable order."""
        return tuple(sorted(get_topic(kind) for kind in self.handles))


def reaction(follows: str, *handles: EventClass) -> Reaction:
    """A component that acts on ``handles`` and ignores the rest of the log."""
    handled = frozenset(handles)
    return Reaction(follows, handled, LOGS[follows] - handled)


# The saga: Wallets debits, credits and refunds; Transfers records each outcome.
WALLET_STEPS = reaction("Transfers", Transfer.Initiated, Transfer.Debited, Transfer.RefundRequested)
TRANSFER_STEPS = reaction(
    "Wallets",
    Wallet.Debited,
    Wallet.DebitDeclined,
    Wallet.Credited,
    Wallet.CreditDeclined,
    Wallet.DebitReversed,
)
# Every step of a transfer is told to its parties (application/webhooks.py says what).
WEBHOOK_SCHEDULING = reaction("Transfers", *LOGS["Transfers"])
# The audit replays balances from the movements and the saga from the transfer events.
AUDIT_MOVEMENTS = reaction(
    "Wallets",
    Wallet.Opened,
    Wallet.Deposited,
    Wallet.DepositFunded,
    Wallet.Debited,
    Wallet.Credited,
    Wallet.DebitReversed,
)
AUDIT_TRANSFERS = reaction("Transfers", *LOGS["Transfers"])
