"""Request fingerprints and cached-answer entries, without Redis."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from infrastructure.response_cache import CachedResponse, NoResponseCache, fingerprint

TRANSFER = {"amount": 3000, "currency": "INR", "receiverId": "r", "description": "rent"}


def test_a_fingerprint_is_a_sha256_that_ignores_field_order() -> None:
    reordered = dict(reversed(list(TRANSFER.items())))

    assert fingerprint(reordered) == fingerprint(TRANSFER)
    assert len(fingerprint(TRANSFER)) == 64
    int(fingerprint(TRANSFER), 16)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 3001},
        {"currency": "USD"},
        {"receiverId": "s"},
        {"description": None},
        {"description": ""},
        {"description": "rent "},
        {"receiverVpa": None},
    ],
)
def test_any_change_to_a_defining_field_changes_the_fingerprint(
    change: dict[str, str | int | None],
) -> None:
    assert fingerprint(TRANSFER | change) != fingerprint(TRANSFER)


def test_fields_cannot_run_into_each_other() -> None:
    assert fingerprint({"a": "b:c", "d": "e"}) != fingerprint({"a": "b", "d": "c:e"})


def test_an_entry_comes_back_as_written_with_exact_amounts() -> None:
    data = {"transaction": {"amount": Decimal("12.34"), "description": "chai ☕", "x": None}}
    entry = CachedResponse(201, data, fingerprint(TRANSFER))

    again = CachedResponse.decode(entry.encode().encode())

    assert again == entry
    assert again is not None
    assert again.data["transaction"]["amount"] == Decimal("12.34")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"status": 201}',
        b'{"status": "201", "data": {}, "fingerprint": ""}',
    ],
)
def test_anything_else_reads_as_no_entry(raw: bytes) -> None:
    assert CachedResponse.decode(raw) is None


async def test_without_redis_nothing_is_cached() -> None:
    cache = NoResponseCache()
    user = uuid4()

    await cache.put(user, "transfer", "k", CachedResponse(201, {}, "f"))

    assert await cache.get(user, "transfer", "k") is None
