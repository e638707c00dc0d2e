"""The Accounts application: users, with unique emails and handles."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.base import SNAPSHOT_INTERVAL, Snapshotting
from domain.errors import UserAlreadyExists, UserNotFound
from domain.session import TokenFamily
from domain.user import Claim, User, claim_id, normalize_email, vpa_candidates

EMAIL = "email"
VPA = "vpa"


class Accounts(Snapshotting):
    """Owns users, the claims that make their emails and handles unique, and their
    sign-in sessions."""

    name = "Accounts"
    recent_events = 0  # nothing follows the accounts' log
    snapshotting_intervals = {
        User: SNAPSHOT_INTERVAL,
        Claim: SNAPSHOT_INTERVAL,
        TokenFamily: SNAPSHOT_INTERVAL,
    }

    def register(self, name: str, email: str, password_hash: str, phone: str | None = None) -> User:
        """Register a user under a free handle; a taken email raises UserAlreadyExists."""
        email = normalize_email(email)
        for vpa in vpa_candidates(name, email):
            if self._claimed(EMAIL, email):
                break
            if self._claimed(VPA, vpa):
                continue
            user = User(name, email, password_hash, vpa, phone)
            try:
                self.save(
                    user,
                    Claim(kind=EMAIL, value=email, user_id=user.id),
                    Claim(kind=VPA, value=vpa, user_id=user.id),
                )
            except IntegrityError:
                continue  # a concurrent claim won; look again at which one
            return user
        raise UserAlreadyExists(f"{email} is already registered")

    def get_user(self, user_id: UUID) -> User:
        try:
            user: Any = self.repository.get(user_id)
        except AggregateNotFoundError:
            raise UserNotFound(f"no user {user_id}") from None
        if not isinstance(user, User):  # the id of a claim or a session, say
            raise UserNotFound(f"no user {user_id}")
        return user

    def user_by_email(self, email: str) -> User:
        return self.get_user(self._owner(EMAIL, normalize_email(email)))

    def user_by_vpa(self, vpa: str) -> User:
        return self.get_user(self._owner(VPA, vpa.strip().lower()))

    def vpa_owner(self, vpa: str) -> UUID | None:
        """Whose handle this is (a handle is never given up), or None if nobody's."""
        try:
            return self._owner(VPA, vpa.strip().lower())
        except UserNotFound:
            return None

    def _owner(self, kind: str, value: str) -> UUID:
        try:
            claim: Claim = self.repository.get(claim_id(kind, value))
        except AggregateNotFoundError:
            raise UserNotFound(f"no user with {kind} {value}") from None
        return claim.user_id

    def _claimed(self, kind: str, value: str) -> bool:
        try:
            self.repository.get(claim_id(kind, value))
        except AggregateNotFoundError:
            return False
        return True
