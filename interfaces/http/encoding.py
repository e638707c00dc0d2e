"""JSON encoding that writes Decimals as exact JSON numbers (``99.5``, never ``99.499…``)."""

from typing import Any

import simplejson


def dumps(payload: Any) -> str:
    text: str = simplejson.dumps(payload, use_decimal=True, ensure_ascii=False)
    return text
