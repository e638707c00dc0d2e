"""Every error the domain and application raise, in one flat hierarchy.

A refused command raises one of these before it records anything, so the
event log never holds a half-applied decision. The interface layer maps each
class to an HTTP status and an error code.
"""


class PayFlowError(Exception):
    """Base of every error PayFlow raises on purpose."""


class InvalidAmount(PayFlowError):
    """An amount is not a positive, exact value with at most two decimals."""


class CurrencyMismatch(PayFlowError):
    """Two amounts, or an amount and a wallet, are in different currencies."""


class InsufficientFunds(PayFlowError):
    """A user wallet would go below zero."""


class BalanceCapExceeded(PayFlowError):
    """A wallet would hold more than its balance cap."""


class LimitExceeded(PayFlowError):
    """A configured per-operation limit (transfer or deposit size) is exceeded."""


class DailyLimitExceeded(LimitExceeded):
    """A user wallet would send more, or more often, in one day than its limits allow."""


class WalletFrozen(PayFlowError):
    """The wallet is frozen: it can be refunded, but neither debited nor credited."""


class WalletClosed(PayFlowError):
    """The wallet is closed for good."""


class WalletNotEmpty(PayFlowError):
    """A wallet that still holds money cannot be closed."""


class IllegalTransition(PayFlowError):
    """A transfer was asked to move to a status its state machine does not allow."""


class SelfTransfer(PayFlowError):
    """A user tried to send money to their own wallet."""


class UserAlreadyExists(PayFlowError):
    """The email is already registered."""


class InvalidCredentials(PayFlowError):
    """Unknown email or wrong password; the two are never told apart."""


class IdempotencyConflict(PayFlowError):
    """An idempotency key was reused with a different request."""


class NotFound(PayFlowError):
    """Base for a referenced thing that does not exist."""


class UserNotFound(NotFound):
    """No user with that id, email or handle."""


class WalletNotFound(NotFound):
    """No wallet with that id."""


class TransferNotFound(NotFound):
    """No transfer with that id."""


class WebhookNotFound(NotFound):
    """No webhook with that id belongs to the caller."""


class DeliveryNotFound(NotFound):
    """No webhook delivery with that id (for that caller)."""


class WebhookExists(PayFlowError):
    """The caller already has a webhook for that URL."""


class WebhookLimitReached(PayFlowError):
    """The caller has as many webhooks as one user may have."""


class DeliveryPending(PayFlowError):
    """A redelivery was asked for while the delivery is still being attempted."""


class Forbidden(PayFlowError):
    """The caller is not a party to the thing asked for."""


class AccountDisabled(Forbidden):
    """The account is disabled: it can neither sign in nor refresh its tokens."""


class SessionInvalid(PayFlowError):
    """A refresh token's session cannot go on; the base of the three reasons below."""


class SessionNotFound(SessionInvalid):
    """No token family with that id belongs to that user."""


class SessionRevoked(SessionInvalid):
    """The token family was revoked, by logout or after a detected reuse."""


class RefreshTokenReused(SessionInvalid):
    """A refresh token was presented after it was spent; it may have been stolen."""
