"""Read your writes: log positions on command answers, and queries that wait for them.

Every successful command answer carries ``X-PayFlow-Position`` (for example
``Transfers:45,Wallets:123``): how far each log had got once the command was
committed. A query that sends it back (the same header, or ``?position=``)
waits until the read models have reached it, at most ``READ_WAIT_SECONDS``;
if they have not, it answers 503 with code 5006 and ``Retry-After``, rather
than an answer that silently misses the write. A query that sends no position
waits, within the same bound, for everything committed before it arrived; if
that bound runs out it still answers, marked ``X-PayFlow-Consistency: stale``.
Every query answer says in ``X-PayFlow-Position`` how far its read models were.
"""

from __future__ import annotations

import re

from aiohttp import web

from interfaces.http.context import blocking, container
from interfaces.http.errors import ApiError, ErrorCode, Handler

POSITION_HEADER = "X-PayFlow-Position"
CONSISTENCY_HEADER = "X-PayFlow-Consistency"
READ_WAIT_SECONDS = 2.0
_POSITION = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(\d{1,18})\s*$")


def format_position(positions: dict[str, int]) -> str:
    return ",".join(f"{name}:{at}" for name, at in sorted(positions.items()))


def parse_position(text: str, known: set[str]) -> dict[str, int]:
    """``Transfers:45,Wallets:123`` as a dict; a 400 naming the problem otherwise."""
    positions: dict[str, int] = {}
    for part in text.split(","):
        match = _POSITION.match(part)
        if match is None or match.group(1) not in known:
            raise ApiError(
                400,
                ErrorCode.INVALID_INPUT,
                f"{POSITION_HEADER} must look like "
                f"{format_position(dict.fromkeys(sorted(known), 1))}",
            )
        positions[match.group(1)] = int(match.group(2))
    return positions


async def caught_up(request: web.Request) -> dict[str, str]:
    """Wait until the read models show what this request must see; the answer's headers."""
    projector = container(request).projector
    asked = request.headers.get(POSITION_HEADER) or request.query.get("position")
    if asked:
        targets = parse_position(asked, {leader.name for leader in projector.leaders})
    else:
        targets = await blocking(request, projector.latest_positions)
    reached = await blocking(request, projector.wait_until, targets, READ_WAIT_SECONDS)
    now = await blocking(request, projector.positions)
    if not reached and asked:
        raise ApiError(
            503,
            ErrorCode.READ_MODEL_BEHIND,
            f"The read models have reached {format_position(now)}, not yet {asked}; retry",
            headers={"Retry-After": "1", POSITION_HEADER: format_position(now)},
        )
    headers = {POSITION_HEADER: format_position(now)}
    if not reached:
        headers[CONSISTENCY_HEADER] = "stale"
    return headers


@web.middleware
async def position_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stamp each successful command answer with the log positions it produced."""
    response = await handler(request)
    if request.method == "POST" and 200 <= response.status < 300:
        projector = container(request).projector
        positions = await blocking(request, projector.latest_positions)
        response.headers[POSITION_HEADER] = format_position(positions)
    return response
