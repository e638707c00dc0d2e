"""Property test: every aggregate type comes back from its snapshot exactly as it was.

For random histories of each aggregate, a snapshot is taken at every version and
sent through the event store's own mapper and transcoder (the bytes a store
keeps). The restored aggregate must hold the same attributes with the same
types, and every command must then do the same to it as to the original: the
same events, the same state, or the same refusal. Each event goes through the
mapper too and must come back as it was.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from application.base import replay
from domain.deposit import Deposit
from domain.errors import PayFlowError
from domain.ids import derived_id
from domain.limits import DailyLimit
from domain.money import Money
from domain.session import TokenFamily
from domain.snapshot import LedgerAggregate, same_value, state_differences
from domain.transfer import Transfer
from domain.user import Claim, User
from domain.wallet import Wallet
from domain.webhook import Delivery, Webhook, WebhookBook

MAPPER = Application[UUID](env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
DAILY = DailyLimit(max_amount=20_000, max_count=3)
DAYS = ("2026-11-27", "2026-11-28")
IST = timezone(timedelta(hours=5, minutes=30))
THEN = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
CHANGES_WITH_EVERY_EVENT = {"_modified_on"}  # the new event's own timestamp


def an_id(n: int) -> UUID:
    return derived_id("property", n % 7)


def rupees(n: int) -> Money:
    return Money(n % 15_000 + 1)


def moment(n: int) -> datetime:
    return (THEN + timedelta(seconds=n)).astimezone(IST if n % 2 else UTC)


Command = Callable[[Any, int], object]


@dataclass(frozen=True)
class Kind:
    """How to make an aggregate of one type, and every command it takes."""

    make: Callable[[int], LedgerAggregate]
    commands: dict[str, Command]


def make_wallet(n: int) -> Wallet:
    if n % 5 == 0:
        return Wallet.open_settlement("INR")
    return Wallet.open_user_wallet(
        an_id(n), "INR", f"u{n}@payflow", Money(50_000) if n % 2 else None
    )


def make_transfer(n: int) -> Transfer:
    key = f"key-{n}" if n % 2 else None
    waits = moment(n) if n % 3 else None
    return Transfer.initiate(an_id(1), an_id(2), an_id(3), an_id(4), rupees(n), "rent", key, waits)


def make_delivery(n: int) -> Delivery:
    return Delivery(
        an_id(n), an_id(1), "TRANSACTION_COMPLETED", an_id(2), "{}", moment(n), 1 + n % 4
    )


KINDS: dict[type[LedgerAggregate], Kind] = {
    Wallet: Kind(
        make_wallet,
        {
            "deposit": lambda w, n: w.deposit(an_id(n), rupees(n)),
            "fund": lambda w, n: w.fund_deposit(an_id(n), rupees(n)),
            "debit": lambda w, n: w.debit(an_id(n), rupees(n), an_id(9), DAYS[n % 2], DAILY),
            "debit without limits": lambda w, n: w.debit(an_id(n), rupees(n), an_id(9), DAYS[0]),
            "credit": lambda w, n: w.credit(an_id(n), rupees(n), an_id(8)),
            "reverse": lambda w, n: w.reverse_debit(an_id(n), rupees(n), DAYS[n % 2]),
            "decline debit": lambda w, n: w.decline_debit(an_id(n), "no"),
            "decline credit": lambda w, n: w.decline_credit(an_id(n), "no"),
            "freeze": lambda w, n: w.freeze("asked"),
            "unfreeze": lambda w, n: w.unfreeze(),
            "close": lambda w, n: w.close(),
            "dollars": lambda w, n: w.deposit(an_id(n), Money(n + 1, "USD")),
        },
    ),
    Transfer: Kind(
        make_transfer,
        {
            "debited": lambda t, n: t.mark_debited(),
            "fail": lambda t, n: t.fail("Insufficient funds: no"),
            "refund": lambda t, n: t.request_refund("Wallet frozen: no"),
            "refunded": lambda t, n: t.mark_refunded(),
            "credited": lambda t, n: t.mark_credited(),
            "complete": lambda t, n: t.complete(),
        },
    ),
    User: Kind(
        lambda n: User(f"User {n}", f"u{n}@example.com", "hash", f"u{n}@payflow", None),
        {
            "rehash": lambda u, n: u.rehash_password(f"hash-{n}"),
            "disable": lambda u, n: u.disable("asked"),
        },
    ),
    Claim: Kind(lambda n: Claim(kind="email", value=f"u{n}@example.com", user_id=an_id(n)), {}),
    Deposit: Kind(
        lambda n: Deposit(an_id(1), an_id(2), n + 1, "INR", f"k{n}" if n % 2 else None, n + 1),
        {},
    ),
    TokenFamily: Kind(
        lambda n: TokenFamily(an_id(n), f"jti-{n}"),
        {
            "rotate": lambda f, n: f.rotate(f.current_jti, f"jti-{n}"),
            "replay": lambda f, n: f.rotate(f"jti-{n}-spent", f"jti-{n}"),
            "revoke": lambda f, n: f.revoke("logged out"),
        },
    ),
    WebhookBook: Kind(
        lambda n: WebhookBook(owner_id=an_id(n)),
        {
            "add": lambda b, n: b.add(f"https://h{n % 4}.example/hook", an_id(n)),
            "remove": lambda b, n: b.remove(f"https://h{n % 4}.example/hook"),
        },
    ),
    Webhook: Kind(
        lambda n: Webhook(an_id(n), "https://shop.example/hook", ["DEBIT_SUCCESS"], "s" * 16),
        {
            "change": lambda h, n: h.change(f"https://h{n}.example", ["CREDIT_SUCCESS"]),
            "enable": lambda h, n: h.enable(),
            "disable": lambda h, n: h.disable("paused"),
            "delivered": lambda h, n: h.delivered(moment(n)),
            "failed": lambda h, n: h.attempt_failed("HTTP 500", disable_after=3),
            "delete": lambda h, n: h.delete(),
        },
    ),
    Delivery: Kind(
        make_delivery,
        {
            "attempt": lambda d, n: d.record_attempt(
                moment(n), n % 3 == 0, 200 if n % 3 == 0 else 503, n % 900, None, n % 60
            ),
            "abandon": lambda d, n: d.abandon("webhook deleted"),
            "redeliver": lambda d, n: d.redeliver(moment(n)),
        },
    ),
}


def every_aggregate_type() -> set[type]:
    """Every aggregate class of the domain (tests may define others of their own)."""
    found, todo = set(), [LedgerAggregate]
    while todo:
        for subclass in todo.pop().__subclasses__():
            todo.append(subclass)
            if subclass.__module__.startswith("domain."):
                found.add(subclass)
    return found


def test_every_aggregate_type_is_covered_here() -> None:
    assert every_aggregate_type() == set(KINDS)


def through_the_store(aggregate: LedgerAggregate) -> Any:
    """The aggregate as a snapshot of it, stored and read back, restores it."""
    snapshot = type(aggregate).Snapshot.take(aggregate)
    return MAPPER.to_domain_event(MAPPER.to_stored_event(snapshot)).mutate(None)


def check_events_come_back(aggregate: LedgerAggregate) -> list[Any]:
    """The aggregate's new events, each stored and read back as itself."""
    stored = []
    for event in aggregate.collect_events():
        again = MAPPER.to_domain_event(MAPPER.to_stored_event(event))
        assert type(again) is type(event)
        assert state_differences(event, again) == []
        stored.append(again)
    return stored


def outcome(aggregate: LedgerAggregate, command: Command, n: int) -> object:
    """What a command does: its refusal, or the events it records and the state after
    (timestamps aside: the two runs happen at different instants)."""
    try:
        command(aggregate, n)
    except PayFlowError as refusal:
        return (type(refusal).__name__, str(refusal), aggregate.version)
    events = [
        {k: v for k, v in vars(e).items() if k != "timestamp"} for e in aggregate.collect_events()
    ]
    state = {k: v for k, v in vars(aggregate).items() if k not in CHANGES_WITH_EVERY_EVENT}
    return (events, state)


history = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 10_000)), max_size=25)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS, key=lambda k: k.__name__)),
    seed=st.integers(0, 99),
    steps=history,
)
def test_a_snapshot_at_any_version_restores_the_aggregate_exactly(
    kind: type[LedgerAggregate], seed: int, steps: list[tuple[int, int]]
) -> None:
    spec = KINDS[kind]
    names = sorted(spec.commands)
    aggregate = spec.make(seed)
    events = check_events_come_back(aggregate)
    for pick, n in [(0, 0), *steps]:
        if names:
            try:
                spec.commands[names[pick % len(names)]](aggregate, n)
            except PayFlowError:
                assert aggregate.collect_events() == []  # a refusal records nothing
        events += check_events_come_back(aggregate)
        # As commands left it, it is what its stored events replay to: so a snapshot
        # of the aggregate a commit leaves is a snapshot of what the store holds.
        assert state_differences(aggregate, replay(None, events)) == []
        restored = through_the_store(aggregate)
        assert type(restored) is kind
        assert state_differences(aggregate, restored) == []
        assert restored.version == aggregate.version
        for name in names:  # every command does to the copy what it does to the original
            for probe in (n, n + 1):
                mine = outcome(copy.deepcopy(aggregate), spec.commands[name], probe)
                theirs = outcome(copy.deepcopy(restored), spec.commands[name], probe)
                assert same_value(mine, theirs), (name, mine, theirs)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS, key=lambda k: k.__name__)),
    seed=st.integers(0, 99),
    steps=history,
)
def test_a_copy_from_the_cache_is_exact_and_independent_of_its_original(
    kind: type[LedgerAggregate], seed: int, steps: list[tuple[int, int]]
) -> None:
    spec = KINDS[kind]
    names = sorted(spec.commands)
    aggregate = spec.make(seed)
    for pick, n in [(0, 0), *steps]:
        if names:
            with contextlib.suppress(PayFlowError):
                spec.commands[names[pick % len(names)]](aggregate, n)
        if n % 3 == 0:
            aggregate.collect_events()  # saved: copies are taken with and without pending
        twin = copy.deepcopy(aggregate)
        assert state_differences(aggregate, twin) == []
        assert twin.version == aggregate.version
        assert twin.collect_events() == aggregate.collect_events()  # same pending events
        before = {k: copy.deepcopy(v) for k, v in vars(aggregate).items()}
        for name in names:  # whatever the copy is made to do, the original stays as it was
            with contextlib.suppress(PayFlowError):
                spec.commands[name](twin, n + 1)
        assert vars(aggregate) == before
