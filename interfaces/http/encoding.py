"""JSON encoding that writes Decimals as exact JSON numbers (``99.5``, never ``99.499…``)."""

from decimal import Decimal
from typing import Any

import orjson
import simplejson


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))  # written as it stands: a number, exactly
    raise TypeError  # simplejson's answer, as before (JSON has no NaN or Infinity)


def dumps(payload: Any) -> str:
    """The payload as JSON text. orjson writes what the interfaces send (it is several
    times faster); what it does not take (integers past 64 bits, keys that are not
    strings) is written by simplejson, to the same meaning."""
    try:
        return orjson.dumps(payload, default=_exact).decode()
    except TypeError:
        text: str = simplejson.dumps(payload, use_decimal=True, ensure_ascii=False)
        return text
