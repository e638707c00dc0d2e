"""What the application needs from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
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
