"""The event store's JSON, written and read by orjson: the same bytes, faster.

``eventsourcing``'s ``JSONTranscoder`` writes every value the ``json`` module
would, and the types it has transcodings for (``UUID``, ``datetime``,
``Decimal``) as ``{"_type_": name, "_data_": value}``. ``OrjsonTranscoder``
writes the same format (events stored by either are read by both), tagging
those types itself before orjson serialises the rest in C.

Where orjson would not give back exactly what the ``json`` module would, the
library's own encoder or decoder does the work: integers beyond 64 bits (orjson
refuses to write them, and reads them back as floats), floats (orjson spells
some differently, ``1e-7`` for ``1e-07``, and the library writes ``NaN``, which
orjson does not read), dictionary keys that are not strings. No event here
holds a float, so a decoded float sends the whole document to the exact decoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError


class _Inexact(Exception):
    """orjson would not round-trip this value exactly."""


_JSON_SCALARS = (str, int, bool, type(None))


class OrjsonTranscoder(JSONTranscoder):
    """``JSONTranscoder``'s format, through orjson (register transcodings as usual)."""

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._tagged(obj))
        except (_Inexact, orjson.JSONEncodeError):
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._untagged(orjson.loads(data))
        except (_Inexact, orjson.JSONDecodeError):  # NaN, say, which orjson does not read
            return super().decode(data)

    def _tagged(self, value: Any) -> Any:
        """``value`` with every transcoded type replaced by its tagged form, and str and
        int subclasses (enum members) as the plain values the ``json`` module writes."""
        kind = type(value)
        if kind in _JSON_SCALARS:
            return value
        if kind is dict:
            tagged = {}
            for key, item in value.items():  # an event's state: mostly scalars, inline
                if type(key) is not str:
                    raise _Inexact
                tagged[key] = item if type(item) in _JSON_SCALARS else self._tagged(item)
            return tagged
        if kind is list or kind is tuple:
            return [self._tagged(item) for item in value]
        transcoding = self.types.get(kind)
        if transcoding is not None:
            data = transcoding.encode(value)  # a str for UUID, datetime and Decimal
            tagged = data if type(data) in _JSON_SCALARS else self._tagged(data)
            return {"_type_": transcoding.name, "_data_": tagged}
        return _plain(value)

    def _untagged(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            decoded = {key: self._untagged(item) for key, item in value.items()}
            if len(decoded) == 2 and "_type_" in decoded and "_data_" in decoded:
                return self._decode_obj(decoded)
            return decoded
        if kind is list:
            return [self._untagged(item) for item in value]
        if kind is float:
            raise _Inexact
        return value


def _plain(value: Any) -> Any:
    """A value of no transcoded type as the ``json`` module would write it."""
    if isinstance(value, bool | float | dict | list | tuple):
        # Floats: orjson writes 1e-7 where the json module writes 1e-07; no event
        # holds one. Subclasses of the containers: the json module's own rules.
        raise _Inexact
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    msg = (
        f"Object of type {type(value)} is not serializable. Please define and "
        "register a custom transcoding for this type."
    )
    raise TranscodingNotRegisteredError(msg)
