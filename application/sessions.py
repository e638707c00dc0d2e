"""Sign-in sessions: refresh-token families, kept in the Accounts event store.

Concurrent use of one refresh token: every attempt loads the family, spends the
token, and saves. At most one save wins the store's (id, version) race; each
loser retries on fresh state, finds its token already spent, and revokes the
family as a detected reuse. So a burst of requests with one token yields one
new pair, and then the whole family (that new pair included) is revoked: two
uses of one token are indistinguishable from a theft.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application

from application.base import retry_on_conflict
from domain.errors import RefreshTokenReused, SessionNotFound
from domain.session import REUSE_DETECTED, TokenFamily


def new_jti() -> str:
    return uuid4().hex


class Sessions:
    """Starts, rotates and revokes token families; a replayed token revokes its family."""

    def __init__(self, app: Application[UUID]) -> None:
        self._app = app

    def start(self, user_id: UUID) -> TokenFamily:
        family = TokenFamily(user_id, new_jti())
        self._app.save(family)
        return family

    def get(self, family_id: UUID, user_id: UUID) -> TokenFamily:
        """The user's family with that id; SessionNotFound if there is none."""
        missing = SessionNotFound(f"no session {family_id} for that user")
        try:
            family: object = self._app.repository.get(family_id)
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(family, TokenFamily) or family.user_id != user_id:
            raise missing
        return family

    def rotate(self, family_id: UUID, user_id: UUID, jti: str) -> str:
        """Spend refresh token ``jti``; the ``jti`` of its successor."""
        successor = new_jti()

        def attempt() -> None:
            family = self.get(family_id, user_id)
            try:
                family.rotate(jti, successor)
            except RefreshTokenReused:
                family.revoke(REUSE_DETECTED)
                self._app.save(family)
                raise
            self._app.save(family)

        retry_on_conflict(attempt)
        return successor

    def revoke(self, family_id: UUID, user_id: UUID, reason: str) -> None:
        """End the family; ending one that has already ended changes nothing."""

        def attempt() -> None:
            family = self.get(family_id, user_id)
            if not family.is_revoked:
                family.revoke(reason)
                self._app.save(family)

        retry_on_conflict(attempt)
