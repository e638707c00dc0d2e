"""The User aggregate, and the claims that keep emails and handles unique.

A ``Claim`` is a tiny aggregate whose id is derived from the claimed value
(``email:asha@example.com``, ``vpa:asha.k@payflow``). Saving it beside the user
makes the event store refuse a second user with the same email or handle.
"""

from __future__ import annotations

import re
import unicodedata
from uuid import UUID, uuid4

from eventsourcing.domain import event

from domain.ids import derived_id
from domain.snapshot import LedgerAggregate

VPA_DOMAIN = "payflow"
_NOT_HANDLE = re.compile(r"[^a-z0-9.]+")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def handle_stem(name: str, email: str) -> str:
    """A readable handle stem: ``Asha Kumar`` becomes ``asha.k``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = _NOT_WORD.sub(" ", ascii_name.lower()).split()
    if not words:
        local = _NOT_HANDLE.sub("", normalize_email(email).split("@")[0]).strip(".")
        words = [local or "user"]
    stem = words[0] if len(words) == 1 else f"{words[0]}.{words[-1][0]}"
    return stem[:40].rstrip(".")


def vpa_candidates(name: str, email: str) -> list[str]:
    """Handles to try in order; the store decides which one is free."""
    stem = handle_stem(name, email)
    numbered = [f"{stem}{n}@{VPA_DOMAIN}" for n in range(1, 10)]
    unique = f"{stem}.{uuid4().hex[:8]}@{VPA_DOMAIN}"
    return [f"{stem}@{VPA_DOMAIN}", *numbered, unique]


class User(LedgerAggregate):
    """Someone who can sign in and owns wallets."""

    @event("Registered")
    def __init__(
        self, name: str, email: str, password_hash: str, vpa: str, phone: str | None
    ) -> None:
        self.name = name
        self.email = email
        self.password_hash = password_hash
        self.vpa = vpa
        self.phone = phone
        self.is_email_verified = False
        self.is_disabled = False

    @event("PasswordRehashed")
    def rehash_password(self, password_hash: str) -> None:
        self.password_hash = password_hash

    @event("Disabled")
    def disable(self, reason: str) -> None:
        self.is_disabled = True


class Claim(LedgerAggregate):
    """A unique value (an email or a handle) claimed by one user, for good."""

    @staticmethod
    def create_id(kind: str, value: str) -> UUID:
        return claim_id(kind, value)

    @event("Claimed")
    def __init__(self, kind: str, value: str, user_id: UUID) -> None:
        self.kind = kind
        self.value = value
        self.user_id = user_id


def claim_id(kind: str, value: str) -> UUID:
    return derived_id("claim", kind, value)
