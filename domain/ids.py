"""Deterministic aggregate ids: what must be unique is made unique by the store.

An aggregate that claims a unique value (an email, a handle, an idempotency
key) gets an id derived from that value, so a second claim collides on the
event store's (id, version) constraint in every backend.
"""

from uuid import UUID, uuid5

PAYFLOW_NAMESPACE = UUID("6f1d1c1e-6b1f-5a4e-9a59-5d3c2f1a7b10")


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
