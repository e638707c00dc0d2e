"""The orjson transcoder writes the library's JSON format, and reads it back exactly.

Events stored before it (by the library's ``JSONTranscoder``) and after it must
read the same through either, value for value and type for type.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from domain.money import Money
from domain.transfer import Transfer
from infrastructure.transcoder import OrjsonTranscoder


class Colour(StrEnum):
    RED = "red"


def with_transcodings(transcoder: JSONTranscoder) -> JSONTranscoder:
    Application[UUID](env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).register_transcodings(
        transcoder
    )
    return transcoder


LIBRARY = with_transcodings(JSONTranscoder())
FAST = with_transcodings(OrjsonTranscoder())

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
moments = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: orjson cannot hold those
    st.floats(),  # orjson spells some differently (1e-7 for 1e-07): no event holds one
    texts,
    st.uuids(),
    moments,
    st.decimals(allow_nan=False),
    st.just(Colour.RED),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(texts, inner, max_size=4),
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@given(st.dictionaries(texts, values, max_size=6))
def test_writes_the_bytes_the_library_writes_and_reads_what_it_reads(state: dict[str, Any]) -> None:
    stored = LIBRARY.encode(state)
    assert FAST.encode(state) == stored
    assert same(FAST.decode(stored), LIBRARY.decode(stored))


@pytest.mark.parametrize(
    "state",
    [
        {"amount": 2**64},  # beyond orjson's integers: written by the library's encoder
        {"amount": -(2**70), "nested": [{"n": 10**30}]},
        {"ratio": 0.1, "big": 1e300, "small": 1e-07},  # no event holds one; it comes back
        {"odd": float("nan")},
        {"keys": {1: "a"}},  # a key that is not a string: the json module's rules
    ],
)
def test_values_orjson_cannot_hold_exactly_go_through_the_library(state: dict[str, Any]) -> None:
    stored = FAST.encode(state)
    assert stored == LIBRARY.encode(state)
    assert same(FAST.decode(stored), LIBRARY.decode(stored))


def test_a_type_without_a_transcoding_is_refused_as_the_library_refuses_it() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.encode({"money": Money.parse("1")})
    with pytest.raises(TranscodingNotRegisteredError):
        LIBRARY.encode({"money": Money.parse("1")})


def test_a_real_event_reads_back_the_same_through_either() -> None:
    app = Application[UUID](
        env={
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "TRANSCODER_TOPIC": "infrastructure.transcoder:OrjsonTranscoder",
        }
    )
    assert isinstance(app.mapper.transcoder, OrjsonTranscoder)
    transfer = Transfer.initiate(
        sender_id=UUID(int=1),
        receiver_id=UUID(int=2),
        sender_wallet_id=UUID(int=3),
        receiver_wallet_id=UUID(int=4),
        amount=Money.parse("12.34"),
        description="dinner ₹",
        wait_until=datetime(2026, 12, 3, tzinfo=UTC),
    )
    (event,) = transfer.collect_events()
    stored = app.mapper.to_stored_event(event)
    assert vars(app.mapper.to_domain_event(stored)) == vars(event)
    assert LIBRARY.decode(stored.state) == FAST.decode(stored.state)
