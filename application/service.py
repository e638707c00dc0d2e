"""``PayFlow``: the use cases the interfaces call, over the three applications.

Replay first: a deposit or transfer with an idempotency key is answered from the
outcome already recorded for (user, key) before anything is checked that depends
on the ledger's state or configuration (balances, limits, the receiver). A
client told "refused" pays again under a new key, so a key whose money moved is
never refused; the same key for a different request is an IdempotencyConflict.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from application.accounts import Accounts
from application.base import Pending, Reply, answered
from application.policy import DEFAULT_CURRENCY
from application.ports import PasswordHasher
from application.sessions import Sessions
from application.transfers import Initiation, TransferRequest, Transfers
from application.wallets import DepositReceipt, Wallets
from domain.errors import (
    AccountDisabled,
    Forbidden,
    IdempotencyConflict,
    InvalidCredentials,
    PayFlowError,
    SelfTransfer,
    UserNotFound,
    WalletNotFound,
)
from domain.ids import transfer_id_for, wallet_id_for
from domain.money import Money
from domain.session import LOGGED_OUT, TokenFamily
from domain.transfer import Transfer, day_of
from domain.user import User
from domain.wallet import Wallet

# Verified when an email is unknown, so both failures take the same time.
_UNKNOWN_USER_HASH_INPUT = "payflow-timing-equaliser"

R = TypeVar("R")


def replay_first(earlier: Callable[[], R | None], act: Callable[[], R]) -> R:
    """The outcome recorded earlier, if any; else ``act()``. If ``act`` is refused,
    look once more: a twin request with the same key may have been accepted while
    this one was being checked, and its outcome is this request's answer too."""
    found = earlier()
    if found is not None:
        return found
    try:
        return act()
    except PayFlowError:
        found = earlier()
        if found is None:
            raise
        return found


@dataclass(frozen=True)
class TransferOrder:
    """A transfer as its sender asked for it, before anything is looked up."""

    sender_id: UUID
    amount: Money
    receiver_id: UUID | None = None
    receiver_vpa: str | None = None
    description: str | None = None
    idempotency_key: str | None = None
    wait_until: datetime | None = None  # the asking request waits for the outcome till then


@dataclass(frozen=True)
class SignIn:
    """What a sign-in checks a password against: the user's hash, or, for an email
    nobody registered, a stand-in hash that costs the same to verify."""

    user: User | None
    password_hash: str

    def user_if(self, verified: bool) -> User:
        """The user, if the password verified against a real user's hash."""
        if self.user is None or not verified:
            raise InvalidCredentials("invalid email or password")
        return self.user


@dataclass(frozen=True)
class Registration:
    user: User
    wallet: Wallet


class PayFlow:
    """The ledger's use cases; every method is blocking and thread-safe."""

    def __init__(
        self,
        accounts: Accounts,
        wallets: Wallets,
        transfers: Transfers,
        hasher: PasswordHasher,
    ) -> None:
        self.accounts = accounts
        self.wallets = wallets
        self.transfers = transfers
        self.hasher = hasher
        self.limits = wallets.limits  # one set of limits: the wallets enforce them too
        self.sessions = Sessions(accounts)
        self._dummy_hash = hasher.hash(_UNKNOWN_USER_HASH_INPUT)

    # Users -----------------------------------------------------------------------

    def register(
        self, name: str, email: str, password: str, phone: str | None = None
    ) -> Registration:
        return self.register_hashed(name, email, self.hasher.hash(password), phone)

    def register_hashed(
        self, name: str, email: str, password_hash: str, phone: str | None = None
    ) -> Registration:
        """Register with a password already hashed (the hashing runs on threads of its own)."""
        user = self.accounts.register(name, email, password_hash, phone)
        return Registration(user, self.wallet_of(user.id))

    def authenticate(self, email: str, password: str) -> User:
        """The user with these credentials; InvalidCredentials whatever is wrong."""
        sign_in = self.sign_in_for(email)
        return sign_in.user_if(self.hasher.verify(sign_in.password_hash, password))

    def sign_in_for(self, email: str) -> SignIn:
        """The hash a sign-in as ``email`` must verify; unknown emails cost the same."""
        try:
            user = self.accounts.user_by_email(email)
        except UserNotFound:
            return SignIn(None, self._dummy_hash)
        return SignIn(user, user.password_hash)

    def user(self, user_id: UUID) -> User:
        return self.accounts.get_user(user_id)

    # Sessions --------------------------------------------------------------------

    def start_session(self, user_id: UUID) -> TokenFamily:
        """A new refresh-token family for a user who may sign in."""
        self._require_enabled(user_id)
        return self.sessions.start(user_id)

    def rotate(self, user_id: UUID, family_id: UUID, jti: str) -> str:
        """Spend a refresh token; the ``jti`` of its successor in the same family."""
        self._require_enabled(user_id)
        return self.sessions.rotate(family_id, user_id, jti)

    def revoke(self, user_id: UUID, family_id: UUID) -> None:
        """Log out: no refresh token of that family is accepted again."""
        self.sessions.revoke(family_id, user_id, LOGGED_OUT)

    def _require_enabled(self, user_id: UUID) -> None:
        if self.accounts.get_user(user_id).is_disabled:
            raise AccountDisabled("This account is disabled")

    # Wallets ---------------------------------------------------------------------

    def wallet_of(self, user_id: UUID, currency: str = DEFAULT_CURRENCY) -> Wallet:
        """The user's wallet, opened on first use if registration stopped short of it."""
        try:
            return self.wallets.get_wallet(wallet_id_for(user_id, currency))
        except WalletNotFound:
            user = self.accounts.get_user(user_id)
            return self.wallets.open_user_wallet(user.id, user.vpa, currency)

    def wallet_for(self, user_id: UUID, wallet_id: UUID) -> Wallet:
        wallet = self.wallets.get_wallet(wallet_id)
        if wallet.owner_id != user_id:
            raise Forbidden("that wallet belongs to someone else")
        return wallet

    def deposit(
        self, user_id: UUID, amount: Money, idempotency_key: str | None = None
    ) -> DepositReceipt:
        def act() -> DepositReceipt:
            self.limits.check_deposit(amount)  # before anything is opened or written
            self.wallet_of(user_id, amount.currency)
            return self.wallets.deposit(user_id, amount, idempotency_key)

        return replay_first(lambda: self.earlier_deposit(user_id, amount, idempotency_key), act)

    def earlier_deposit(
        self, user_id: UUID, amount: Money, idempotency_key: str | None
    ) -> DepositReceipt | None:
        """The deposit already made under this key, or None; IdempotencyConflict if it
        was for another amount."""
        if idempotency_key is None:
            return None
        return self.wallets.earlier_deposit(user_id, amount, idempotency_key)

    # Transfers -------------------------------------------------------------------

    def send(
        self,
        sender_id: UUID,
        amount: Money,
        *,
        receiver_id: UUID | None = None,
        receiver_vpa: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Initiation:
        """Start a transfer; the saga moves the money after this returns."""
        return self.place(
            TransferOrder(
                sender_id, amount, receiver_id, receiver_vpa, description, idempotency_key
            )
        )

    def place(self, order: TransferOrder) -> Initiation:
        """Start the transfer the order asks for, or replay the one its key started."""
        return replay_first(
            lambda: self.earlier_transfer(order),
            lambda: self.transfers.initiate(self._request_for(order)),
        )

    @property
    def checks_in_memory(self) -> bool:
        """Whether this process is the only writer of wallets (``payflow up``), so the
        wallets it has cached are the store's and a transfer can be checked from them
        by the Transfers writer (``begin_place_in_memory``)."""
        return self.wallets.writes_alone

    def begin_place(self, order: TransferOrder) -> Future[Initiation]:
        """``place`` without waiting for the commit: the order is checked in the calling
        thread (reading the store as need be), and the future of the answer is given
        (the replay of the transfer the order's key started, the new transfer once
        committed, or the refusal). If the future raises IntegrityError, a twin
        request with the same key was accepted first, and ``place`` answers with it."""

        def earlier() -> Future[Initiation] | None:
            found = self.earlier_transfer(order)
            return None if found is None else answered(found)

        return replay_first(earlier, lambda: self.transfers.begin(self._request_for(order)))

    def begin_place_in_memory(self, order: TransferOrder, reply: Reply) -> None:
        """``begin_place`` for an order whose key, if any, has been looked up already
        (``earlier_transfer``), holding no thread: the Transfers writer checks it just
        before its next commit (``GroupCommit.decide_then``) from what this process
        holds, reading nothing, and gives ``reply`` the answer on its own thread.
        The answer is None if that is not enough (a party not in memory, a payee
        named by VPA, a keyed order refused, which a twin may have been accepted
        for): ``begin_place`` then decides it, off the writer, which never waits on
        the store for anyone. Only where ``checks_in_memory``."""

        def decide() -> Pending | None:
            request = self._request_in_memory(order)
            return None if request is None else self.transfers.prepare(request)

        self.transfers.initiations.decide_then(decide, reply)

    def _request_in_memory(self, order: TransferOrder) -> TransferRequest | None:
        """``_request_for`` from the wallets in memory alone, or None if it would need
        the store."""
        if order.receiver_id is None:
            return None  # named by VPA: the accounts say whose it is
        amount = order.amount
        receiver = self.wallets.cached_wallet(wallet_id_for(order.receiver_id, amount.currency))
        sender = self.wallets.cached_wallet(wallet_id_for(order.sender_id, amount.currency))
        if receiver is None or sender is None:
            return None
        try:
            self.limits.check_transfer(amount)
            return self._checked(order, receiver, sender)
        except PayFlowError:
            if order.idempotency_key is not None:
                return None  # a twin may have been accepted meanwhile: look again
            raise

    def earlier_transfer(self, order: TransferOrder) -> Initiation | None:
        """The transfer already accepted under the order's key, or None;
        IdempotencyConflict if that key was used for a different transfer."""
        if order.idempotency_key is None:
            return None
        transfer_id = transfer_id_for(order.sender_id, order.idempotency_key)
        earlier = self.transfers.initiated(transfer_id)
        if earlier is None:
            return None
        if not self._same_transfer(order, earlier):
            raise IdempotencyConflict(
                f"idempotency key {order.idempotency_key!r} was used for another transfer"
            )
        return Initiation(earlier, replayed=True)

    def _request_for(self, order: TransferOrder) -> TransferRequest:
        """Check the order against the limits, the parties and the sender's allowance."""
        amount = order.amount
        self.limits.check_transfer(amount)  # before anything is opened or written
        receiver_wallet = self._receiving_wallet(order, amount.currency)
        sender_wallet = self.wallet_of(order.sender_id, amount.currency)
        return self._checked(order, receiver_wallet, sender_wallet)

    def _checked(
        self, order: TransferOrder, receiver_wallet: Wallet, sender_wallet: Wallet
    ) -> TransferRequest:
        """The request for an order within the limits between these wallets, if the
        parties and the sender's allowance admit it."""
        amount = order.amount
        if receiver_wallet.owner_id == order.sender_id:
            raise SelfTransfer("cannot send money to yourself")
        # Refuse at once what the wallet would refuse; the wallet still decides.
        today = day_of(datetime.now(UTC))
        sender_wallet.check_daily_allowance(amount, today, self.limits.daily)
        return TransferRequest(
            sender_id=order.sender_id,
            receiver_id=receiver_wallet.owner_id,
            sender_wallet_id=sender_wallet.id,
            receiver_wallet_id=receiver_wallet.id,
            amount=amount,
            description=order.description,
            idempotency_key=order.idempotency_key,
            wait_until=order.wait_until,
        )

    def _same_transfer(self, order: TransferOrder, earlier: Transfer) -> bool:
        if order.receiver_id is not None:
            receiver: UUID | None = order.receiver_id
        else:
            receiver = self.accounts.vpa_owner(order.receiver_vpa or "")
        return (
            receiver == earlier.receiver_id
            and order.amount == earlier.amount
            and order.description == earlier.description
        )

    def transfer_for(
        self, user_id: UUID, transfer_id: UUID, as_of: datetime | None = None
    ) -> Transfer:
        """A transfer the user is a party to, as it is now or as it stood at ``as_of``."""
        if as_of is None:
            transfer = self.transfers.get_transfer(transfer_id)
        else:
            transfer = self.transfers.as_of(transfer_id, as_of)
        if user_id not in (transfer.sender_id, transfer.receiver_id):
            raise Forbidden("you are not a party to that transfer")
        return transfer

    def _receiving_wallet(self, order: TransferOrder, currency: str) -> Wallet:
        """The wallet the order pays into. Named by id, the receiver's open wallet
        answers for the receiver (``wallet_of`` asks the accounts only when it is not
        open yet); named by VPA, the accounts say whose it is."""
        receiver_id = order.receiver_id
        if receiver_id is None:
            if order.receiver_vpa is None:
                raise UserNotFound("a receiver is required")
            receiver_id = self.accounts.user_by_vpa(order.receiver_vpa).id
        try:  # only its id and owner are read: what a wallet never changes
            return self.wallets.known_wallet(wallet_id_for(receiver_id, currency))
        except WalletNotFound:
            return self.wallet_of(receiver_id, currency)
