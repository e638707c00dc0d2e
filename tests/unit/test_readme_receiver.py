"""The receiver code the README shows verifies real PayFlow signatures, and only those."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from infrastructure.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_readme_example_secret"
BODY = b'{"event":"TRANSACTION_COMPLETED","amount":12.5}'


def readme_verifier() -> Callable[[str, bytes, str, str], bool]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    (code,) = [block for block in blocks if "def verified" in block]
    namespace: dict[str, object] = {}
    exec(code, namespace)  # the README's own example, run as a reader would
    verified = namespace["verified"]
    assert callable(verified)
    return verified  # type: ignore[return-value]


def test_accepts_what_payflow_signs() -> None:
    headers = sign(SECRET, BODY, int(time.time()))
    assert readme_verifier()(SECRET, BODY, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER])


def test_refuses_a_changed_body_a_wrong_secret_and_an_old_timestamp() -> None:
    verified = readme_verifier()
    now = int(time.time())
    headers = sign(SECRET, BODY, now)
    signature, timestamp = headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
    assert not verified(SECRET, BODY.replace(b"12.5", b"125"), signature, timestamp)
    assert not verified("whsec_someone_elses_secret", BODY, signature, timestamp)
    old = sign(SECRET, BODY, now - 3600)
    assert not verified(SECRET, BODY, old[SIGNATURE_HEADER], old[TIMESTAMP_HEADER])
