"""Operators' changes to an order before dispatch: a manual hold and a new shipping address.

Both are Temporal updates the order's workflow validates (409 once the order is past the
point where they apply); the workflow records them on the timeline and, for a new address,
runs the hold rules again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.client import (
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import EngineDep, JsonRoute, Operator, TemporalDep
from api.errors import Problem
from api.orders_read import live_view, load_row
from api.schemas import AddressIn, OrderActionAnswer, Reason, Strict, problems
from api.updates import UPDATE_TIMEOUT_S, accepted_action, refusal
from oms.domain.ids import order_workflow_id
from oms.domain.messages import ActionResult, Address, AddressChange, OperatorAction
from oms.domain.status import TERMINAL, OrderStatus
from workflows.order import OrderWorkflow

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


async def _update(client: Any, row: Any, update: Any, arg: Any, what: str) -> str:
    """Send the update (a method of the order workflow); the order's status when its
    workflow accepted it."""
    status = OrderStatus(row.status)
    if status in TERMINAL:
        raise Problem(409, f"order is {status}; it can no longer be {what}", kind="invalid-state")
    handle = client.get_workflow_handle(order_workflow_id(row.id))
    try:
        result: ActionResult = await handle.execute_update(
            update, arg, rpc_timeout=timedelta(seconds=UPDATE_TIMEOUT_S)
        )
    except WorkflowUpdateFailedError as exc:
        raise refusal(exc, status) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise Problem(
            503,
            "the order did not answer in time; the change may still be applied when it does: "
            "read the order before sending it again",
            kind="temporal-unavailable",
            headers={"Retry-After": "5"},
            dependency="temporal",
        ) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Problem(409, "the order's workflow is not running", kind="invalid-state") from exc
        raise
    return result.status


async def _accepted(client: Any, row: Any, action: str, by: str, at_status: str) -> JSONResponse:
    body = {
        **await live_view(client, row),
        "accepted_action": accepted_action(action, by, at_status),
    }
    return JSONResponse(body, status_code=202)


@router.post("/{order_id}/hold", status_code=202, responses=_RESPONSES)
async def hold_order(
    order_id: str, body: HoldRequest, caller: Operator, engine: EngineDep, client: TemporalDep
) -> JSONResponse:
    """Hold an order for a decision (reason ``manual``) while it can still be cancelled."""
    row = await load_row(engine, order_id, caller)
    action = OperatorAction(caller.name, body.reason)
    at = await _update(client, row, OrderWorkflow.request_hold, action, "held")
    return await _accepted(client, row, "hold", caller.name, at)


@router.post("/{order_id}/address", status_code=202, responses=_RESPONSES)
async def change_address(
    order_id: str, body: AddressIn, caller: Operator, engine: EngineDep, client: TemporalDep
) -> JSONResponse:
    """A new shipping address until dispatch; the hold rules run again on it."""
    row = await load_row(engine, order_id, caller)
    change = AddressChange(caller.name, Address(**body.model_dump()))
    update = OrderWorkflow.request_address_change
    at = await _update(client, row, update, change, "given a new address")
    return await _accepted(client, row, "address", caller.name, at)
