"""Deterministic aggregate ids: what must be unique is made unique by the store.

An aggregate that claims a unique value (an email, a handle, an idempotency
key) gets an id derived from that value, so a second claim collides on the
event store's (id, version) constraint in every backend.
"""

import os
import threading
from uuid import UUID, uuid5

PAYFLOW_NAMESPACE = UUID("6f1d1c1e-6b1f-5a4e-9a59-5d3c2f1a7b10")


class RandomIds:
    """Random (version 4) UUIDs from the system's random source, as ``uuid4`` gives,
    but drawn ``batch`` ids' worth of bytes at a time. Each draw is a system call,
    and a thread making one gives up the interpreter lock: with other threads busy
    it waits milliseconds to get it back, so one draw per transfer held the
    single writer up longer than everything else it did for that transfer."""

    def __init__(self, batch: int = 256) -> None:
        self.batch = batch
        self._bytes = b""
        self._at = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)  # a child draws bytes of its own

    def _forget(self) -> None:
        self._bytes, self._at = b"", 0
        self._lock = threading.Lock()  # another thread may have held it at the fork

    def __call__(self) -> UUID:
        with self._lock:
            if self._at == len(self._bytes):
                self._bytes, self._at = os.urandom(16 * self.batch), 0
            drawn = self._bytes[self._at : self._at + 16]
            self._at += 16
        return UUID(bytes=drawn, version=4)


random_id = RandomIds()


def derived_id(*parts: object) -> UUID:
    """A name-based UUID for the given parts, stable across processes and releases."""
    return uuid5(PAYFLOW_NAMESPACE, "\x1f".join(str(part) for part in parts))


def wallet_id_for(user_id: UUID, currency: str) -> UUID:
    """The one wallet a user holds in a currency."""
    return derived_id("wallet", user_id, currency)


def settlement_wallet_id(currency: str) -> UUID:
    """The settlement account through which money enters from the outside world."""
    return derived_id("settlement", currency)


def transfer_id_for(user_id: UUID, idempotency_key: str) -> UUID:
    """The transfer a user's idempotency key stands for."""
    return derived_id("transfer", user_id, idempotency_key)


def deposit_id_for(user_id: UUID, idempotency_key: str) -> UUID:
    """The deposit a user's idempotency key stands for."""
    return derived_id("deposit", user_id, idempotency_key)
