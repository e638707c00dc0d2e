"""Webhook signatures: HMAC-SHA256 with the subscription's secret.

Every delivery carries two headers (API.md, "Webhooks"):

- ``X-PayFlow-Signature: sha256=<hex HMAC(secret, raw body)>``;
- ``X-PayFlow-Timestamp: t=<unix seconds>,v1=<hex HMAC(secret, "<t>." + raw body)>``,
  which binds the body to the time it was signed, so a receiver can refuse replays.

``verify`` is the receiving side, as a merchant would write it; our own tests use it.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-PayFlow-Signature"
TIMESTAMP_HEADER = "X-PayFlow-Timestamp"
TOLERANCE = 300  # seconds a signed timestamp may differ from the receiver's clock


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The signature headers for ``body``, signed at ``timestamp`` (unix seconds)."""
    return {
        SIGNATURE_HEADER: f"sha256={_mac(secret, body)}",
        TIMESTAMP_HEADER: f"t={timestamp},v1={_mac(secret, _timestamped(timestamp, body))}",
    }


def verify(
    secret: str,
    body: bytes,
    signature_header: str,
    timestamp_header: str,
    now: float,
    tolerance: int = TOLERANCE,
) -> bool:
    """Whether both headers sign ``body`` with ``secret``, signed within ``tolerance`` of ``now``.

    Digests are compared in constant time. A timestamp header may carry several
    ``v1`` values (as during a secret rotation); one match is enough.
    """
    signed_at, digests = _parse_timestamp_header(timestamp_header)
    if signed_at is None or abs(now - signed_at) > tolerance:
        return False
    expected = _mac(secret, _timestamped(signed_at, body))
    timestamp_ok = any(_same(digest, expected) for digest in digests)
    return timestamp_ok and _same(signature_header, f"sha256={_mac(secret, body)}")


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _timestamped(timestamp: int, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _parse_timestamp_header(header: str) -> tuple[int | None, list[str]]:
    """``t`` (None unless exactly one, all digits) and the ``v1`` values of ``t=..,v1=..``."""
    stamps: list[str] = []
    digests: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            digests.append(value)
    if len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdigit():
        return None, digests
    return int(stamps[0]), digests
