"""Opaque public ids: a type prefix and the aggregate's UUID (``user_3f2a…``)."""

from __future__ import annotations

import re
from uuid import UUID

USER = "user"
WALLET = "wallet"
TRANSACTION = "txn"
DEPOSIT = "dep"
WEBHOOK = "whk"
DELIVERY = "dlv"

_PUBLIC_ID = re.compile(r"([a-z]+)_([0-9a-f]{32})")  # the whole text, not a prefix of it


class MalformedId(ValueError):
    """A public id is not of the expected kind or shape."""


def public_id(prefix: str, value: UUID) -> str:
    return f"{prefix}_{value.hex}"


def parse_id(prefix: str, text: str) -> UUID:
    match = _PUBLIC_ID.fullmatch(text or "")
    if match is None or match.group(1) != prefix:
        raise MalformedId(f"not a {prefix} id: {text[:80]!r}")
    return UUID(hex=match.group(2))
