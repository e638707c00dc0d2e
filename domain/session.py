"""The TokenFamily aggregate: the chain of refresh tokens one sign-in hands out.

Every refresh token names its family (the ``fam`` claim, this aggregate's id)
and its own id (``jti``). Only the family's current ``jti`` may be spent, once:
rotating replaces it with its successor. Presenting any other ``jti`` means a
spent token was replayed, which the application answers by revoking the family.
A revoked family never rotates again.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import RefreshTokenReused, SessionRevoked
from domain.snapshot import LedgerAggregate

REUSE_DETECTED = "reuse detected"
LOGGED_OUT = "logged out"


class TokenFamily(LedgerAggregate):
    """The refresh tokens of one sign-in; at most one of them is valid at a time."""

    class Started(Aggregate.Created):
        user_id: UUID
        jti: str

    class Rotated(Aggregate.Event):
        old_jti: str
        new_jti: str

    class Revoked(Aggregate.Event):
        reason: str

    @event(Started)
    def __init__(self, user_id: UUID, jti: str) -> None:
        self.user_id = user_id
        self.current_jti = jti
        self.is_revoked = False
        self.revoked_reason: str | None = None

    def rotate(self, old_jti: str, new_jti: str) -> None:
        """Spend the current refresh token ``old_jti``; ``new_jti`` becomes the valid one."""
        self._require_active()
        if old_jti != self.current_jti:
            raise RefreshTokenReused("this refresh token was already used")
        self._rotated(old_jti=old_jti, new_jti=new_jti)

    @event(Rotated)
    def _rotated(self, old_jti: str, new_jti: str) -> None:
        self.current_jti = new_jti

    def revoke(self, reason: str) -> None:
        """End the family: none of its refresh tokens is accepted again."""
        self._require_active()
        self._revoked(reason=reason)

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.is_revoked = True
        self.revoked_reason = reason

    # Guards ----------------------------------------------------------------------

    def _require_active(self) -> None:
        if self.is_revoked:
            raise SessionRevoked(f"this session was revoked ({self.revoked_reason})")
