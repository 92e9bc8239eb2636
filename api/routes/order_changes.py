"""Changes to an order before dispatch: a manual hold, a new shipping address, new lines.

Each is a Temporal update the order's workflow validates (409 once the order is past the
point where it applies); the workflow records it on the timeline and, for a new address or
new lines, runs the hold rules again. An edit of the lines also moves the order's stock
and payment, all or nothing (docs/edits.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api import order_actions
from api.deps import EngineDep, JsonRoute, Operator, Principal, TemporalDep, require
from api.intake import check_skus, checked_total, priced_lines
from api.orders_read import load_row
from api.schemas import AddressIn, OrderActionAnswer, OrderEditIn, Reason, Strict, problems
from oms.domain.messages import Address, AddressChange, OperatorAction, OrderEdit

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


# The order's channel (for its customer), operators and admins.
Editor = Annotated[Principal, Depends(require("channel", "operator", "admin"))]
_EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": OrderActionAnswer,
        "description": "the edit is done: the order with its new lines, total and shipments, "
        "and ``accepted_action``",
    },
    **problems(401, 403, 404, 409, 422, 503),
}


@router.post("/{order_id}/edit", status_code=200, responses=_EDIT_RESPONSES)
async def edit_order(
    order_id: str, body: OrderEditIn, caller: Editor, engine: EngineDep, client: TemporalDep
) -> JSONResponse:
    """The order's complete new lines (add, remove or change lines and quantities) until
    dispatch. Stock is reserved for them and released for what was taken out, and the
    authorization follows the new total, all or nothing: 409 ``out_of_stock`` (naming the
    SKUs), ``payment_declined``, ``dispatched``, ``backordered``, ``no_change`` ... with
    nothing changed (``reason`` in the answer)."""
    row = await load_row(engine, order_id, caller)
    currency = str(row.view["currency"])
    lines = priced_lines(currency, body.lines)
    checked_total(lines, currency)
    await check_skus(engine, body.lines)
    change = OrderEdit(caller.name, lines, body.reason or "")
    taken = await order_actions.edit(client, row, change)
    return JSONResponse(taken.body, status_code=200)
