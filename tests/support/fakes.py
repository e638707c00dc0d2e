"""Fakes that stand in for slow or outside things, recording what happened."""

from __future__ import annotations


class PlainHasher:
    """A PasswordHasher that is instant and readable: never use outside tests."""

    def __init__(self) -> None:
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return f"plain:{password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return password_hash == f"plain:{password}"
