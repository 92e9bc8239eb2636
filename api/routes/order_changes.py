"""Operators' changes to an order before dispatch: a manual hold and a new shipping address.

Both are Temporal updates the order's workflow validates (409 once the order is past the
point where they apply); the workflow records them on the timeline and, for a new address,
runs the hold rules again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import order_actions
from api.deps import EngineDep, JsonRoute, Operator, TemporalDep
from api.orders_read import load_row
from api.schemas import AddressIn, OrderActionAnswer, Reason, Strict, problems
from oms.domain.messages import Address, AddressChange, OperatorAction

router = APIRouter(prefix="/v1/orders", tags=["orders"], route_class=JsonRoute)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": OrderActionAnswer,
        "description": "accepted by the order's workflow; the order as it stands, with "
        "``accepted_action {action, by, at_status, outcome, next}``: what follows",
    },
    **problems(401, 403, 404, 409, 422, 503),
}


class HoldRequest(Strict):
    reason: Reason


@router.post("/{order_id}/hold", status_code=202, responses=_RESPONSES)
async def hold_order(
    order_id: str, body: HoldRequest, caller: Operator, engine: EngineDep, client: TemporalDep
) -> JSONResponse:
    """Hold an order for a decision (reason ``manual``) while it can still be cancelled."""
    row = await load_row(engine, order_id, caller)
    taken = await order_actions.hold(client, row, OperatorAction(caller.name, body.reason))
    return JSONResponse(taken.body, status_code=202)


@router.post("/{order_id}/address", status_code=202, responses=_RESPONSES)
async def change_address(
    order_id: str, body: AddressIn, caller: Operator, engine: EngineDep, client: TemporalDep
) -> JSONResponse:
    """A new shipping address until dispatch; the hold rules run again on it."""
    row = await load_row(engine, order_id, caller)
    change = AddressChange(caller.name, Address(**body.model_dump()))
    taken = await order_actions.change_address(client, row, change)
    return JSONResponse(taken.body, status_code=202)
