"""Refresh-token families on every store: rotation, reuse detection, logout, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.saga import Ledger
from application.service import PayFlow
from domain.errors import (
    AccountDisabled,
    RefreshTokenReused,
    SessionInvalid,
    SessionNotFound,
    SessionRevoked,
)
from domain.session import LOGGED_OUT, REUSE_DETECTED, TokenFamily
from tests.support.saga import payflow_on

GUARD = 30.0  # seconds any wait here may take before the test fails


CONCURRENT = 10


@pytest.fixture
def payflow(ledger: Ledger) -> PayFlow:
    return payflow_on(ledger)


@pytest.fixture
def asha(payflow: PayFlow) -> UUID:
    return payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id


def stored(ledger: Ledger, family_id: UUID) -> list[str]:
    """The names of the family's events, read from the store itself."""
    return [type(e).__name__ for e in ledger.accounts.events.get(family_id)]


def loaded(payflow: PayFlow, family_id: UUID, user_id: UUID) -> TokenFamily:
    return payflow.sessions.get(family_id, user_id)


def racing(ledger: Ledger, monkeypatch: pytest.MonkeyPatch, rival: Callable[[], None]) -> None:
    """Make ``rival`` commit first when the Accounts app next saves: a lost race."""
    real_save = ledger.accounts.save
    pending = [rival]

    def save(*aggregates: Any, **kwargs: Any) -> Any:
        while pending:
            pending.pop()()
        return real_save(*aggregates, **kwargs)

    monkeypatch.setattr(ledger.accounts, "save", save)


def rival_rotation(ledger: Ledger, family_id: UUID, jti: str, successor: str) -> Callable[[], None]:
    def rotate() -> None:
        family: TokenFamily = ledger.accounts.repository.get(family_id)
        family.rotate(jti, successor)
        ledger.accounts.save(family)

    return rotate


def test_a_sign_in_starts_a_stored_family(ledger: Ledger, payflow: PayFlow, asha: UUID) -> None:
    family = payflow.start_session(asha)

    assert stored(ledger, family.id) == ["Started"]
    again = loaded(payflow, family.id, asha)
    assert (again.user_id, again.current_jti, again.is_revoked) == (asha, family.current_jti, False)


def test_rotation_spends_the_token_for_a_new_current_one(
    ledger: Ledger, payflow: PayFlow, asha: UUID
) -> None:
    family = payflow.start_session(asha)

    second = payflow.rotate(asha, family.id, family.current_jti)
    third = payflow.rotate(asha, family.id, second)

    assert len({family.current_jti, second, third}) == 3
    assert loaded(payflow, family.id, asha).current_jti == third
    assert stored(ledger, family.id) == ["Started", "Rotated", "Rotated"]


def test_reusing_a_spent_token_revokes_the_family_and_its_newest_token(
    ledger: Ledger, payflow: PayFlow, asha: UUID
) -> None:
    family = payflow.start_session(asha)
    newest = payflow.rotate(asha, family.id, family.current_jti)

    with pytest.raises(RefreshTokenReused):
        payflow.rotate(asha, family.id, family.current_jti)  # the thief, or a stale client

    assert stored(ledger, family.id) == ["Started", "Rotated", "Revoked"]
    assert loaded(payflow, family.id, asha).revoked_reason == REUSE_DETECTED
    with pytest.raises(SessionRevoked):
        payflow.rotate(asha, family.id, newest)


def test_a_revoked_family_leaves_the_users_other_families_alone(
    payflow: PayFlow, asha: UUID
) -> None:
    stolen, other = payflow.start_session(asha), payflow.start_session(asha)
    payflow.rotate(asha, stolen.id, stolen.current_jti)
    with pytest.raises(RefreshTokenReused):
        payflow.rotate(asha, stolen.id, stolen.current_jti)

    successor = payflow.rotate(asha, other.id, other.current_jti)

    assert loaded(payflow, other.id, asha).current_jti == successor


def test_logout_revokes_the_family_once_however_often_it_is_asked(
    ledger: Ledger, payflow: PayFlow, asha: UUID
) -> None:
    family = payflow.start_session(asha)

    payflow.revoke(asha, family.id)
    payflow.revoke(asha, family.id)

    assert stored(ledger, family.id) == ["Started", "Revoked"]
    assert loaded(payflow, family.id, asha).revoked_reason == LOGGED_OUT
    with pytest.raises(SessionRevoked):
        payflow.rotate(asha, family.id, family.current_jti)


def test_an_unknown_family_is_not_found(payflow: PayFlow, asha: UUID) -> None:
    with pytest.raises(SessionNotFound):
        payflow.rotate(asha, uuid4(), "jti")
    with pytest.raises(SessionNotFound):
        payflow.revoke(asha, uuid4())


def test_another_users_family_is_not_found(payflow: PayFlow, asha: UUID) -> None:
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    family = payflow.start_session(ravi)

    with pytest.raises(SessionNotFound):
        payflow.rotate(asha, family.id, family.current_jti)
    with pytest.raises(SessionNotFound):
        payflow.revoke(asha, family.id)
    assert not loaded(payflow, family.id, ravi).is_revoked


def test_an_aggregate_that_is_not_a_family_is_not_found(payflow: PayFlow, asha: UUID) -> None:
    with pytest.raises(SessionNotFound):
        payflow.rotate(asha, asha, "jti")  # the user aggregate itself


def test_a_disabled_user_can_neither_sign_in_nor_refresh(
    ledger: Ledger, payflow: PayFlow, asha: UUID
) -> None:
    family = payflow.start_session(asha)
    user = ledger.accounts.get_user(asha)
    user.disable("reported as compromised")
    ledger.accounts.save(user)

    with pytest.raises(AccountDisabled):
        payflow.start_session(asha)
    with pytest.raises(AccountDisabled):
        payflow.rotate(asha, family.id, family.current_jti)
    assert stored(ledger, family.id) == ["Started"]


def test_a_rotation_that_loses_a_race_finds_its_token_spent_and_revokes_the_family(
    ledger: Ledger, payflow: PayFlow, asha: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = payflow.start_session(asha)
    racing(ledger, monkeypatch, rival_rotation(ledger, family.id, family.current_jti, "rival"))

    with pytest.raises(RefreshTokenReused):
        payflow.rotate(asha, family.id, family.current_jti)

    assert stored(ledger, family.id) == ["Started", "Rotated", "Revoked"]
    with pytest.raises(SessionRevoked):
        payflow.rotate(asha, family.id, "rival")


def test_a_logout_that_loses_a_race_to_a_rotation_still_revokes(
    ledger: Ledger, payflow: PayFlow, asha: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = payflow.start_session(asha)
    racing(ledger, monkeypatch, rival_rotation(ledger, family.id, family.current_jti, "rival"))

    payflow.revoke(asha, family.id)

    assert stored(ledger, family.id) == ["Started", "Rotated", "Revoked"]
    assert loaded(payflow, family.id, asha).revoked_reason == LOGGED_OUT


def test_concurrent_rotations_of_one_token_let_one_win_and_end_revoked(
    ledger: Ledger, payflow: PayFlow, asha: UUID
) -> None:
    family = payflow.start_session(asha)
    start = threading.Barrier(CONCURRENT, timeout=GUARD)

    def use_the_token(_: int) -> str | SessionInvalid:
        start.wait()
        try:
            return payflow.rotate(asha, family.id, family.current_jti)
        except SessionInvalid as refused:
            return refused

    with ThreadPoolExecutor(CONCURRENT) as pool:
        outcomes = list(pool.map(use_the_token, range(CONCURRENT)))

    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [type(o) for o in outcomes if not isinstance(o, str)]
    assert len(winners) == 1
    assert set(losers) <= {RefreshTokenReused, SessionRevoked}
    assert RefreshTokenReused in losers  # the first loser to retry revoked the family
    assert stored(ledger, family.id) == ["Started", "Rotated", "Revoked"]
    with pytest.raises(SessionRevoked):
        payflow.rotate(asha, family.id, winners[0])
