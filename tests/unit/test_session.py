"""The TokenFamily aggregate: every command, and every refusal recording nothing."""

from __future__ import annotations

from collections.abc import Callable
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.errors import PayFlowError, RefreshTokenReused, SessionInvalid, SessionRevoked
from domain.session import LOGGED_OUT, REUSE_DETECTED, TokenFamily

USER = uuid5(NAMESPACE_URL, "https://payflow.test/users/asha")


def started(jti: str = "jti-1") -> TokenFamily:
    """A family with no pending events whose current token is ``jti``."""
    family = TokenFamily(USER, jti)
    family.collect_events()
    return family


def revoked() -> TokenFamily:
    family = started()
    family.revoke(LOGGED_OUT)
    family.collect_events()
    return family


def assert_refused(
    family: TokenFamily, command: Callable[[], object], error: type[PayFlowError]
) -> None:
    """The command raises ``error`` and leaves no trace."""
    before = (family.version, family.current_jti, family.is_revoked, family.revoked_reason)
    with pytest.raises(error):
        command()
    assert family.collect_events() == []
    assert (family.version, family.current_jti, family.is_revoked, family.revoked_reason) == before


def test_starts_an_active_family_whose_first_token_is_current() -> None:
    family = TokenFamily(USER, "jti-1")
    assert family.user_id == USER
    assert family.current_jti == "jti-1"
    assert not family.is_revoked
    assert family.revoked_reason is None
    (event,) = family.collect_events()
    assert isinstance(event, TokenFamily.Started)
    assert (event.user_id, event.jti) == (USER, "jti-1")


def test_two_sign_ins_start_two_families() -> None:
    assert TokenFamily(USER, "a").id != TokenFamily(USER, "a").id


def test_rotating_the_current_token_makes_its_successor_current() -> None:
    family = started("jti-1")
    family.rotate("jti-1", "jti-2")
    assert family.current_jti == "jti-2"
    assert not family.is_revoked
    (event,) = family.collect_events()
    assert isinstance(event, TokenFamily.Rotated)
    assert (event.old_jti, event.new_jti) == ("jti-1", "jti-2")


def test_rotates_again_and_again_along_the_chain() -> None:
    family = started("jti-1")
    family.rotate("jti-1", "jti-2")
    family.rotate("jti-2", "jti-3")
    assert family.current_jti == "jti-3"
    assert len(family.collect_events()) == 2


def test_refuses_to_rotate_a_spent_token() -> None:
    family = started("jti-1")
    family.rotate("jti-1", "jti-2")
    family.collect_events()
    assert_refused(family, lambda: family.rotate("jti-1", "jti-3"), RefreshTokenReused)


def test_refuses_to_rotate_a_token_the_family_never_issued() -> None:
    family = started("jti-1")
    assert_refused(family, lambda: family.rotate("stranger", "jti-2"), RefreshTokenReused)


def test_refuses_to_rotate_a_revoked_family_even_its_last_token() -> None:
    family = revoked()
    assert_refused(family, lambda: family.rotate("jti-1", "jti-2"), SessionRevoked)


def test_revoking_ends_the_family_and_records_why() -> None:
    family = started()
    family.revoke(REUSE_DETECTED)
    assert family.is_revoked
    assert family.revoked_reason == REUSE_DETECTED
    (event,) = family.collect_events()
    assert isinstance(event, TokenFamily.Revoked)
    assert event.reason == REUSE_DETECTED


def test_refuses_to_revoke_a_revoked_family() -> None:
    family = revoked()
    assert_refused(family, lambda: family.revoke(REUSE_DETECTED), SessionRevoked)
    assert family.revoked_reason == LOGGED_OUT


def test_replaying_the_events_rebuilds_the_same_family() -> None:
    family = TokenFamily(USER, "jti-1")
    family.rotate("jti-1", "jti-2")
    family.revoke(REUSE_DETECTED)

    replayed = None
    for recorded in family.collect_events():
        replayed = recorded.mutate(replayed)

    assert isinstance(replayed, TokenFamily)
    assert replayed.id == family.id
    assert replayed.version == family.version
    assert (replayed.user_id, replayed.current_jti) == (USER, "jti-2")
    assert (replayed.is_revoked, replayed.revoked_reason) == (True, REUSE_DETECTED)


def test_every_refusal_is_a_session_error() -> None:
    assert issubclass(RefreshTokenReused, SessionInvalid)
    assert issubclass(SessionRevoked, SessionInvalid)
