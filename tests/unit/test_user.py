"""Users, the claims that keep emails and handles unique, and handle suggestions."""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest

from domain.ids import PAYFLOW_NAMESPACE
from domain.user import Claim, User, claim_id, handle_stem, normalize_email, vpa_candidates

USER_ID = uuid5(NAMESPACE_URL, "https://payflow.test/users/asha")
HANDLE = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)*")


def register(name: str = "Asha Kumar") -> User:
    return User(name, "asha@example.com", "$argon2id$stub", "asha.k@payflow", "+919800000000")


# User --------------------------------------------------------------------------------


def test_registers_an_enabled_unverified_user() -> None:
    user = register()
    assert user.name == "Asha Kumar"
    assert user.email == "asha@example.com"
    assert user.password_hash == "$argon2id$stub"
    assert user.vpa == "asha.k@payflow"
    assert user.phone == "+919800000000"
    assert not user.is_email_verified
    assert not user.is_disabled
    assert [type(e).__name__ for e in user.collect_events()] == ["Registered"]


def test_registers_a_user_without_a_phone() -> None:
    user = User("Ravi", "ravi@example.com", "h", "ravi@payflow", None)
    assert user.phone is None


def test_keeps_a_unicode_name_as_given() -> None:
    user = register("José Núñez 李小龙")
    assert user.name == "José Núñez 李小龙"


def test_rehashing_replaces_the_password_hash() -> None:
    user = register()
    user.collect_events()
    user.rehash_password("$argon2id$newer")
    assert user.password_hash == "$argon2id$newer"
    assert [type(e).__name__ for e in user.collect_events()] == ["PasswordRehashed"]


def test_disabling_records_the_reason() -> None:
    user = register()
    user.collect_events()
    user.disable("fraud")
    assert user.is_disabled
    (event,) = user.collect_events()
    assert type(event).__name__ == "Disabled"
    assert event.reason == "fraud"  # type: ignore[attr-defined]


def test_two_registrations_get_different_ids() -> None:
    assert register().id != register().id


# Claims ------------------------------------------------------------------------------


def test_a_claim_id_is_derived_from_kind_and_value() -> None:
    claim = Claim(kind="email", value="asha@example.com", user_id=USER_ID)
    assert claim.id == claim_id("email", "asha@example.com")
    assert claim.id == uuid5(PAYFLOW_NAMESPACE, "claim\x1femail\x1fasha@example.com")
    assert (claim.kind, claim.value, claim.user_id) == ("email", "asha@example.com", USER_ID)


def test_a_second_claim_of_the_same_value_gets_the_same_id() -> None:
    first = Claim(kind="vpa", value="asha.k@payflow", user_id=USER_ID)
    second = Claim(kind="vpa", value="asha.k@payflow", user_id=uuid4())
    assert first.id == second.id


def test_claims_of_different_values_or_kinds_get_different_ids() -> None:
    assert claim_id("vpa", "asha.k@payflow") != claim_id("vpa", "asha.k1@payflow")
    assert claim_id("email", "x@payflow") != claim_id("vpa", "x@payflow")


# Emails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("Asha@Example.COM", "asha@example.com"),
        ("  asha@example.com\n", "asha@example.com"),
        ("asha@example.com", "asha@example.com"),
    ],
)
def test_normalizes_email_by_trimming_and_lowercasing(given: str, normal: str) -> None:
    assert normalize_email(given) == normal


# Handles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Asha Kumar", "asha.k"),
        ("asha kumar", "asha.k"),
        ("Asha", "asha"),
        ("Asha Rani Kumar", "asha.k"),
        ("  Asha   Kumar  ", "asha.k"),
        ("O'Brien Kelly", "o.k"),
        ("Dr. Asha Kumar", "dr.k"),
        ("J. R. R. Tolkien", "j.t"),
        ("Asha-Kumar", "asha.k"),
        ("Ravi 2", "ravi.2"),
    ],
)
def test_handle_stem_is_first_name_dot_last_initial(name: str, stem: str) -> None:
    assert handle_stem(name, "someone@example.com") == stem


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("José Núñez", "jose.n"),
        ("Zoë Ångström", "zoe.a"),
        ("Renée", "renee"),
        ("Çağlar Öztürk", "caglar.o"),
    ],
)
def test_handle_stem_drops_accents_from_unicode_names(name: str, stem: str) -> None:
    assert handle_stem(name, "someone@example.com") == stem


@pytest.mark.parametrize(
    ("name", "email", "stem"),
    [
        ("李小龙", "Li.Wei@example.com", "li.wei"),
        ("Ἀθηνᾶ", "athena@example.com", "athena"),
        ("!!!", "asha+pay@example.com", "ashapay"),
        ("...", "asha@example.com", "asha"),
        ("", "ravi@example.com", "ravi"),
        ("😀 😀", "x_y-z@example.com", "xyz"),
    ],
)
def test_a_name_without_usable_letters_takes_the_stem_from_the_email(
    name: str, email: str, stem: str
) -> None:
    assert handle_stem(name, email) == stem


@pytest.mark.parametrize("email", ["+++@example.com", "...@example.com", "@example.com"])
def test_with_no_usable_name_or_email_the_stem_is_user(email: str) -> None:
    assert handle_stem("李小龙", email) == "user"


def test_a_name_of_digits_gives_a_digit_stem() -> None:
    assert handle_stem("123", "x@example.com") == "123"


def test_handle_stem_is_at_most_40_characters_and_never_ends_with_a_dot() -> None:
    assert handle_stem("A" * 60, "x@example.com") == "a" * 40
    assert handle_stem("B" * 39 + " Kumar", "x@example.com") == "b" * 39


@pytest.mark.parametrize(
    "name",
    ["Asha Kumar", "Dr. Asha Kumar", "...", ". . .", "A.", "Mary-Jane O'Neil", "李", "x" * 80],
)
def test_every_stem_is_a_well_formed_handle(name: str) -> None:
    assert HANDLE.fullmatch(handle_stem(name, "someone@example.com"))


def test_vpa_candidates_go_plain_then_numbered_then_random() -> None:
    candidates = vpa_candidates("Asha Kumar", "asha@example.com")
    assert candidates[:10] == [
        "asha.k@payflow",
        *(f"asha.k{n}@payflow" for n in range(1, 10)),
    ]
    assert len(candidates) == 11
    assert re.fullmatch(r"asha\.k\.[0-9a-f]{8}@payflow", candidates[10])
    assert len(set(candidates)) == 11


def test_the_last_vpa_candidate_differs_between_calls() -> None:
    first = vpa_candidates("Asha Kumar", "asha@example.com")
    second = vpa_candidates("Asha Kumar", "asha@example.com")
    assert first[:10] == second[:10]
    assert first[10] != second[10]


def test_vpa_candidates_for_a_name_without_letters_use_the_email() -> None:
    assert vpa_candidates("李小龙", "li.wei@example.com")[0] == "li.wei@payflow"
