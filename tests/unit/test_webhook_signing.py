"""Webhook signatures: what the sender puts in the headers, and the reference verifier."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from infrastructure.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

SECRET = "whsec_test_secret_123"
BODY = b'{"a":1}'
SIGNED_AT = 1_700_000_000


def verify_headers(
    headers: dict[str, str], body: bytes = BODY, secret: str = SECRET, now: float = SIGNED_AT
) -> bool:
    return verify(secret, body, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], now=now)


def test_signs_a_known_vector() -> None:
    # Both digests computed with `openssl dgst -sha256 -hmac whsec_test_secret_123`.
    assert sign(SECRET, BODY, SIGNED_AT) == {
        "X-PayFlow-Signature": (
            "sha256=b6e071daa9232b7ce3c91e126d69da9c40d5694bdd386a1feeaa602340dae21c"
        ),
        "X-PayFlow-Timestamp": (
            "t=1700000000,v1=e89dcbfdce3392fb275033fb083d8c81e095a63bf687d9a2cd50e7d5f55e21f6"
        ),
    }


def test_signature_is_hmac_sha256_of_the_raw_body_and_of_t_dot_body() -> None:
    body = b'{"event":"TRANSACTION_COMPLETED","amount":"12.50"}'
    headers = sign("another-secret-of-16+", body, 1_234_567_890)

    raw = hmac.new(b"another-secret-of-16+", body, hashlib.sha256).hexdigest()
    stamped = hmac.new(b"another-secret-of-16+", b"1234567890." + body, hashlib.sha256)
    assert headers[SIGNATURE_HEADER] == f"sha256={raw}"
    assert headers[TIMESTAMP_HEADER] == f"t=1234567890,v1={stamped.hexdigest()}"


def test_round_trip_verifies() -> None:
    assert verify_headers(sign(SECRET, BODY, SIGNED_AT))


def test_tampered_body_fails() -> None:
    assert not verify_headers(sign(SECRET, BODY, SIGNED_AT), body=b'{"a":2}')


def test_wrong_secret_fails() -> None:
    assert not verify_headers(sign(SECRET, BODY, SIGNED_AT), secret="whsec_other_secret_456")


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_timestamp_outside_tolerance_fails(skew: int) -> None:
    assert not verify_headers(sign(SECRET, BODY, SIGNED_AT), now=SIGNED_AT + skew)


@pytest.mark.parametrize("skew", [300, -300, 0])
def test_timestamp_within_tolerance_verifies(skew: int) -> None:
    assert verify_headers(sign(SECRET, BODY, SIGNED_AT), now=SIGNED_AT + skew)


def test_replayed_body_under_a_fresh_timestamp_fails() -> None:
    """Changing ``t`` to look fresh breaks ``v1``, which covers the timestamp."""
    headers = sign(SECRET, BODY, SIGNED_AT)
    digest = headers[TIMESTAMP_HEADER].split(",v1=")[1]
    headers[TIMESTAMP_HEADER] = f"t={SIGNED_AT + 3600},v1={digest}"
    assert not verify_headers(headers, now=SIGNED_AT + 3600)


def test_each_header_is_required_to_match() -> None:
    good = sign(SECRET, BODY, SIGNED_AT)
    other = sign(SECRET, b"{}", SIGNED_AT)
    assert not verify_headers({**good, SIGNATURE_HEADER: other[SIGNATURE_HEADER]})
    assert not verify_headers({**good, TIMESTAMP_HEADER: other[TIMESTAMP_HEADER]})


@pytest.mark.parametrize(
    "timestamp_header",
    ["", "v1=abc", "t=,v1=abc", "t=abc,v1=abc", "t=1700000000", "t=-1700000000,v1=x", "t=١٢"],
)
def test_malformed_timestamp_header_fails(timestamp_header: str) -> None:
    headers = {**sign(SECRET, BODY, SIGNED_AT), TIMESTAMP_HEADER: timestamp_header}
    assert not verify_headers(headers)


def test_non_ascii_signature_is_refused_not_an_error() -> None:
    headers = {**sign(SECRET, BODY, SIGNED_AT), SIGNATURE_HEADER: "sha256=é"}
    assert not verify_headers(headers)


def test_any_matching_v1_is_enough() -> None:
    """During a secret rotation a sender may sign with both secrets."""
    old = sign("whsec_old_secret_0000", BODY, SIGNED_AT)[TIMESTAMP_HEADER]
    new = sign(SECRET, BODY, SIGNED_AT)[TIMESTAMP_HEADER]
    both = f"{old},v1={new.split(',v1=')[1]}"
    headers = {**sign(SECRET, BODY, SIGNED_AT), TIMESTAMP_HEADER: both}
    assert verify_headers(headers)
