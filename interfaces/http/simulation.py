"""Fault injection for chaos tests and demos: the saga's credit step fails on demand.

Outside production mode only; in production mode these routes answer 404. The
settings live in this process (the embedded mode runs the saga here too).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from aiohttp import web

from application.policy import CreditFaults, FailureType
from interfaces.http.context import container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok, read_json
from interfaces.http.schemas import SimulationSchema, load
from interfaces.ids import TRANSACTION, MalformedId, parse_id, public_id

routes = web.RouteTableDef()


def _faults(request: web.Request) -> CreditFaults:
    if container(request).settings.is_production:
        raise web.HTTPNotFound()
    return container(request).ledger.wallets.faults


def _state(faults: CreditFaults) -> dict[str, Any]:
    rate = faults.rate
    return {
        "enabled": faults.enabled,
        "failureRate": Decimal(rate.numerator) / Decimal(rate.denominator),
        "failureType": faults.failure_type.value,
        "failTransactionIds": sorted(public_id(TRANSACTION, t) for t in faults.transfer_ids),
    }


@routes.get("/ledger/simulation")
async def simulation(request: web.Request) -> web.Response:
    return ok(_state(_faults(request)))


@routes.post("/ledger/simulation")
async def configure_simulation(request: web.Request) -> web.Response:
    faults = _faults(request)
    body = load(SimulationSchema(), await read_json(request))
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
    faults.configure(
        enabled=body.get("enabled", True if asks_for_faults else None),
        rate=None if rate is None else Fraction(rate),
        failure_type=FailureType(body["failure_type"]) if "failure_type" in body else None,
        transfer_ids=ids,
    )
    return ok(_state(faults))


@routes.post("/ledger/simulation/reset")
async def reset_simulation(request: web.Request) -> web.Response:
    faults = _faults(request)
    faults.reset()
    return ok(_state(faults))
