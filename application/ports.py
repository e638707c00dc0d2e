"""What the application needs from the outside world, as protocols."""

from typing import Protocol


class PasswordHasher(Protocol):
    """A slow, salted, memory-hard password hash."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...
