"""What the application needs from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from uuid import UUID

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent

    from application.policy import FaultSettings


class PasswordHasher(Protocol):
    """A slow, salted, memory-hard password hash."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class FaultSettingsStore(Protocol):
    """Where the credit-fault settings are kept: this process, or a store all processes share."""

    def load(self) -> FaultSettings:
        """The settings now in force (the initial ones while none have been saved)."""
        ...

    def update(self, change: Callable[[FaultSettings], FaultSettings]) -> FaultSettings:
        """Save ``change(current)`` as one atomic step and return it; if ``change``
        raises, nothing is saved."""
        ...


@runtime_checkable
class ReadsMany(Protocol):
    """A recorder that reads many aggregates' events in one round trip (a store
    across the network offers it; a local one need not)."""

    def select_events_after(self, after: Mapping[UUID, int]) -> Sequence[StoredEvent]:
        """Every event of each aggregate in ``after`` past the version given for it,
        in (aggregate, version) order."""
        ...

    def select_latest_of(self, ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        """The last event of each of ``ids`` that has any (of a snapshot store: the
        latest snapshot)."""
        ...
