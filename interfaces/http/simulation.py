"""Fault injection for chaos tests and demos: the saga's credit step fails on demand.

Never in production mode. ``PAYFLOW_SIMULATION=on|off`` turns the routes on or
off (404); unset, they are on only in the embedded mode (``payflow up``). Every
call needs a signed-in caller. In server mode with ``PAYFLOW_SIMULATION=on`` the
settings are kept in PostgreSQL, shared by every process: what any API process
saves is what the saga process uses for its next credit, and what every API
process shows. Otherwise they live in this process, which runs the saga too.
Reading and saving them is store I/O, so it runs off the event loop.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from aiohttp import web

from application.policy import CreditFaults, FailureType, FaultSettings
from interfaces.http.context import blocking, caller, container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok, read_json
from interfaces.http.schemas import SimulationSchema, load
from interfaces.ids import TRANSACTION, MalformedId, parse_id, public_id

routes = web.RouteTableDef()


SIMULATION = web.AppKey("simulation_routes", bool)


def _faults(request: web.Request) -> CreditFaults:
    """The credit faults, for a signed-in caller, where the routes are on at all."""
    if not request.app[SIMULATION]:
        raise web.HTTPNotFound()
    caller(request)
    return container(request).ledger.wallets.faults


def _state(settings: FaultSettings) -> dict[str, Any]:
    rate = settings.rate
    return {
        "enabled": settings.enabled,
        "failureRate": Decimal(rate.numerator) / Decimal(rate.denominator),
        "failureType": settings.failure_type.value,
        "failTransactionIds": sorted(public_id(TRANSACTION, t) for t in settings.transfer_ids),
    }


@routes.get("/ledger/simulation")
async def simulation(request: web.Request) -> web.Response:
    return ok(_state(await blocking(request, _faults(request).settings)))


@routes.post("/ledger/simulation")
async def configure_simulation(request: web.Request) -> web.Response:
    faults = _faults(request)
    body = load(SimulationSchema, await read_json(request))
    try:
        ids = {parse_id(TRANSACTION, t) for t in body.get("fail_transaction_ids", [])} or None
    except MalformedId as error:
        raise ApiError(
            400,
            ErrorCode.VALIDATION_ERROR,
            "Validation failed",
            {"failTransactionIds": [str(error)]},
        ) from None
    if "fail_transaction_ids" in body and ids is None:
        ids = set()
    rate = body.get("failure_rate")
    asks_for_faults = bool(rate) or bool(ids)  # setting a rate or ids switches it on
    saved = await blocking(
        request,
        faults.configure,
        enabled=body.get("enabled", True if asks_for_faults else None),
        rate=None if rate is None else Fraction(rate),
        failure_type=FailureType(body["failure_type"]) if "failure_type" in body else None,
        transfer_ids=ids,
    )
    return ok(_state(saved))


@routes.post("/ledger/simulation/reset")
async def reset_simulation(request: web.Request) -> web.Response:
    return ok(_state(await blocking(request, _faults(request).reset)))
