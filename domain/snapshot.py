"""Snapshots that give back exactly the state they took, every value as its own type.

The event store's JSON transcoder keeps ``UUID``, ``datetime`` and ``Decimal``
values as their types, but writes any ``str`` or ``int`` subclass as a bare
``str`` or ``int``: a ``StrEnum`` member came back from a snapshot as a plain
string, unequal by identity to the member it was. ``ExactSnapshot`` tags what
the transcoder would flatten (enum members, ``Money``, tuples, sets) and
restores each as its type. It refuses, at the moment it is taken, any value it
cannot give back exactly, so a new kind of field cannot silently lose its type.

Every aggregate of the ledger takes its snapshots with it (``LedgerAggregate``).
An enum that appears in an aggregate's state is registered with
``@exact_enum``; only registered classes are ever rebuilt from stored text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from copy import deepcopy
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot

from domain.money import Money

E = TypeVar("E", bound=type[Enum])

ENUM, MONEY, TUPLE, SET = "_enum_", "_money_", "_tuple_", "_set_"
_TAGS = frozenset({ENUM, MONEY, TUPLE, SET})
_PLAIN = (type(None), bool, int, str, UUID, datetime, Decimal)  # the transcoder keeps these
_ENUMS: dict[str, type[Enum]] = {}


class UnsnapshottableState(TypeError):
    """An aggregate holds a value its snapshot could not give back exactly."""


def exact_enum(cls: E) -> E:
    """Let members of this enum appear in aggregate state (a class decorator)."""
    _ENUMS[_name_of(cls)] = cls
    return cls


def encode_state(value: Any) -> Any:
    """``value`` with every type the transcoder would flatten tagged, recursively."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, Enum):
        return _encode_enum(value)
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        raise UnsnapshottableState(
            f"a {kind.__qualname__} cannot be snapshotted exactly: {value!r}"
        )
    return encoder(value)


def decode_state(value: Any) -> Any:
    """The value ``encode_state`` was given."""
    if isinstance(value, list):
        return [decode_state(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = _TAGS.intersection(value)
    if not tag:
        return {key: decode_state(item) for key, item in value.items()}
    (name,) = tag
    return _DECODERS[name](value)


def _encode_enum(value: Enum) -> dict[str, Any]:
    name = _name_of(type(value))
    if _ENUMS.get(name) is not type(value):
        raise UnsnapshottableState(f"{name} is not registered with @exact_enum")
    return {ENUM: name, "value": value.value}


def _encode_set(value: set[Any] | frozenset[Any]) -> dict[str, Any]:
    items = [encode_state(item) for item in sorted(value, key=repr)]
    return {SET: items, "frozen": type(value) is frozenset}


def _encode_dict(value: dict[Any, Any]) -> dict[str, Any]:
    if any(type(key) is not str for key in value):
        raise UnsnapshottableState(f"a dict with keys other than str: {list(value)[:3]!r}")
    if _TAGS.intersection(value):
        raise UnsnapshottableState(f"a dict whose keys look like a snapshot tag: {list(value)!r}")
    return {key: encode_state(item) for key, item in value.items()}


def _decode_enum(value: dict[str, Any]) -> Enum:
    return _ENUMS[value[ENUM]](value["value"])


def _decode_money(value: dict[str, Any]) -> Money:
    minor, currency = value[MONEY]
    return Money(minor, currency)


def _decode_tuple(value: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(decode_state(item) for item in value[TUPLE])


def _decode_set(value: dict[str, Any]) -> set[Any] | frozenset[Any]:
    items = {decode_state(item) for item in value[SET]}
    return frozenset(items) if value["frozen"] else items


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    Money: lambda money: {MONEY: [money.minor, money.currency]},
    list: lambda items: [encode_state(item) for item in items],
    tuple: lambda items: {TUPLE: [encode_state(item) for item in items]},
    set: _encode_set,
    frozenset: _encode_set,
    dict: _encode_dict,
}

_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    ENUM: _decode_enum,
    MONEY: _decode_money,
    TUPLE: _decode_tuple,
    SET: _decode_set,
}


def _name_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class ExactSnapshot(Snapshot):
    """A snapshot whose state is restored value for value, type for type."""

    @classmethod
    def take(cls, aggregate: Any) -> Any:
        taken = super().take(aggregate)
        return dataclasses.replace(taken, state=encode_state(taken.state))

    def mutate(self, _: None) -> Any:
        decoded = dataclasses.replace(self, state=decode_state(self.state))
        return super(ExactSnapshot, decoded).mutate(None)


# Values a copy may share with its original: nothing can change them in place.
_IMMUTABLE = (*_PLAIN, Enum, Money, float, complex, bytes, frozenset)


def _shareable(value: Any) -> bool:
    if isinstance(value, _IMMUTABLE):
        return True
    return type(value) is tuple and all(_shareable(item) for item in value)


class LedgerAggregate(Aggregate):
    """The base of every aggregate here: snapshots restore its state exactly, and a
    copy (the library copies each aggregate it hands out from its cache) shares
    the values nothing can change in place and deep-copies only the rest."""

    Snapshot = ExactSnapshot

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        copy = object.__new__(type(self))
        memo[id(self)] = copy
        for key, value in vars(self).items():
            kept = value if _shareable(value) else deepcopy(value, memo)
            object.__setattr__(copy, key, kept)
        return copy


def state_of(aggregate: Any) -> dict[str, Any]:
    """What a snapshot must give back: every attribute but the events not yet saved."""
    return {key: value for key, value in vars(aggregate).items() if key != "_pending_events"}


def state_differences(expected: Any, actual: Any) -> list[str]:
    """Each attribute whose value, or whose value's type, differs between two aggregates."""
    mine, theirs = state_of(expected), state_of(actual)
    return [
        f"{key}: {_shown(mine.get(key))} != {_shown(theirs.get(key))}"
        for key in sorted(mine.keys() | theirs.keys())
        if not same_value(mine.get(key, _MISSING), theirs.get(key, _MISSING))
    ]


_MISSING = object()


def same_value(a: Any, b: Any) -> bool:
    """Equal, and of the same type, all the way down (``"USER"`` is not ``WalletKind.USER``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(same_value, a, b))
    return bool(a == b)


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__qualname__})"
