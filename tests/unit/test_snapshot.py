"""Exact snapshots: what they keep, what they refuse, and that a refusal never fails a save."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import event

from application.base import Snapshotting, replay
from domain.money import Money
from domain.snapshot import (
    LedgerAggregate,
    UnsnapshottableState,
    decode_state,
    encode_state,
    exact_enum,
    same_value,
)
from domain.wallet import WalletKind


class Unregistered(StrEnum):
    ONE = "ONE"


@exact_enum
class Level(Enum):
    LOW = 1


def test_every_kept_type_comes_back_as_itself() -> None:
    state = {
        "kind": WalletKind.SETTLEMENT,
        "level": Level.LOW,
        "money": Money(12_34, "USD"),
        "pair": (1, "a"),
        "tags": {"b", "a"},
        "frozen": frozenset({3}),
        "nested": {"list": [WalletKind.USER, None, True, 7, "x"]},
        "id": UUID(int=5),
        "at": datetime(2026, 11, 27, tzinfo=UTC),
        "exact": Decimal("0.10"),
    }
    assert same_value(decode_state(encode_state(state)), state)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (1.5, "a float cannot be snapshotted exactly"),
        (Unregistered.ONE, "is not registered with @exact_enum"),
        ({UUID(int=1): 1}, "a dict with keys other than str"),
        ({"_enum_": "x", "value": 1}, "a dict whose keys look like a snapshot tag"),
        (object(), "a object cannot be snapshotted exactly"),
    ],
)
def test_a_value_that_could_not_come_back_exactly_is_refused(value: Any, complaint: str) -> None:
    with pytest.raises(UnsnapshottableState, match=complaint):
        encode_state({"field": [value]})


def test_same_value_tells_an_enum_member_from_its_text() -> None:
    assert WalletKind.USER == "USER"
    assert not same_value(WalletKind.USER, "USER")
    assert not same_value({"a": [1]}, {"a": [True]})


class Gauge(LedgerAggregate):
    """An aggregate holding a float, which no snapshot can keep exactly."""

    @event("Started")
    def __init__(self) -> None:
        self.reading = 0.5

    @event("Read")
    def read(self) -> None:
        pass


class Gauges(Snapshotting):
    snapshotting_intervals = {Gauge: 1}


def test_a_snapshot_that_cannot_be_taken_is_logged_and_the_save_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Gauges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, snapshot_interval=1)
    gauge = Gauge()
    with caplog.at_level(logging.ERROR):
        app.save(gauge)
    assert app.repository.get(gauge.id).version == 1  # committed all the same
    assert app.snapshots is not None
    assert list(app.snapshots.get(gauge.id)) == []
    assert f"could not snapshot {gauge.id} of Gauges" in caplog.text
    assert "a float cannot be snapshotted exactly" in caplog.text


def test_the_interval_is_each_application_s_own() -> None:
    every_two = Gauges(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, snapshot_interval=2)
    assert every_two.snapshotting_intervals == {Gauge: 2}
    assert Gauges.snapshotting_intervals == {Gauge: 1}


class Counter(LedgerAggregate):
    """An aggregate whose every event changes what a snapshot must hold."""

    @event("Started")
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class Counters(Snapshotting):
    snapshotting_intervals = {Counter: 4}


def test_a_commit_that_passes_a_multiple_of_the_interval_snapshots_what_it_left() -> None:
    app = Counters(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, snapshot_interval=4)
    counter = Counter()
    for _ in range(2):
        counter.count_one()
    app.save(counter)  # versions 1-3: short of 4, no snapshot
    assert app.snapshots is not None
    assert list(app.snapshots.get(counter.id)) == []

    for _ in range(3):
        counter.count_one()
    app.save(counter)  # versions 4-6 in one commit: snapshotted at 6, as it was left

    snapshots: list[Any] = list(app.snapshots.get(counter.id))
    [snapshot] = snapshots
    assert snapshot.originator_version == 6
    restored = snapshot.mutate(None)
    assert (restored.version, restored.count) == (6, 5)
    replayed = replay(None, app.events.get(counter.id))  # every event, not the snapshot
    assert (replayed.version, replayed.count) == (restored.version, restored.count)
