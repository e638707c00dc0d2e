"""Argon2Hasher: salted argon2id hashes, verified without ever raising."""

from __future__ import annotations

import pytest

from infrastructure.passwords import Argon2Hasher

PASSWORD = "Correct-Horse-9"


@pytest.fixture(scope="module")
def hasher() -> Argon2Hasher:
    return Argon2Hasher(time_cost=1, memory_kib=64)


@pytest.fixture(scope="module")
def stored(hasher: Argon2Hasher) -> str:
    return hasher.hash(PASSWORD)


def test_the_hash_is_argon2id_and_not_the_password(stored: str) -> None:
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_the_hash_records_the_configured_cost(stored: str) -> None:
    assert "m=64,t=1," in stored


def test_two_hashes_of_one_password_differ_by_their_salt(hasher: Argon2Hasher) -> None:
    first, second = hasher.hash(PASSWORD), hasher.hash(PASSWORD)
    assert first != second
    assert hasher.verify(first, PASSWORD)
    assert hasher.verify(second, PASSWORD)


def test_verifies_the_right_password(hasher: Argon2Hasher, stored: str) -> None:
    assert hasher.verify(stored, PASSWORD) is True


@pytest.mark.parametrize(
    "attempt", ["", "correct-horse-9", "Correct-Horse-9 ", "Correct-Horse-", "Correct-Horse-90"]
)
def test_refuses_any_other_password(hasher: Argon2Hasher, stored: str, attempt: str) -> None:
    assert hasher.verify(stored, attempt) is False


def test_verifies_a_unicode_password(hasher: Argon2Hasher) -> None:
    stored = hasher.hash("पासवर्ड-🔑")
    assert hasher.verify(stored, "पासवर्ड-🔑")
    assert not hasher.verify(stored, "पासवर्ड-")


def test_verifies_a_hash_made_with_other_costs(hasher: Argon2Hasher) -> None:
    older = Argon2Hasher(time_cost=2, memory_kib=128).hash(PASSWORD)
    assert hasher.verify(older, PASSWORD)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=64,t=1,p=4$zzz$yyy",
        "$2b$12$abcdefghijklmnopqrstuv",  # a bcrypt hash from the ancestor service
        "pbkdf2_sha256$1$salt$hash",
        "$argon2id$v=19$m=64,t=1,p=4$ü$ü",
    ],
)
def test_a_garbage_hash_verifies_as_false(hasher: Argon2Hasher, garbage: str) -> None:
    assert hasher.verify(garbage, PASSWORD) is False


def test_a_truncated_hash_verifies_as_false(hasher: Argon2Hasher, stored: str) -> None:
    assert hasher.verify(stored[:-4], PASSWORD) is False
