"""The outbound half of webhooks: signing, target checks, single attempts, retry delays.

A dispatcher picks due deliveries, signs each body (``sign``), makes one
attempt (``WebhookSender.send``), records the ``AttemptResult``, and when the
attempt failed and attempts remain, stores the next due time (``retry_delay``).
"""

from infrastructure.webhooks.retry import DEFAULT_ATTEMPTS, retry_delay
from infrastructure.webhooks.sender import AttemptResult, WebhookSender
from infrastructure.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from infrastructure.webhooks.targets import (
    GuardedResolver,
    RefusedAddress,
    UnsafeTarget,
    check_target,
)

__all__ = [
    "DEFAULT_ATTEMPTS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AttemptResult",
    "GuardedResolver",
    "RefusedAddress",
    "UnsafeTarget",
    "WebhookSender",
    "check_target",
    "retry_delay",
    "sign",
    "verify",
]
