"""The order's edits: new lines before dispatch (update ``request_edit``).

An edit takes the order's complete new lines. Its steps, one edit at a time (``lock``):

1. the refusals again, under the lock (dispatch may have begun while it waited);
2. with stock reserved and a higher total: would the new lines fit? (nothing written);
3. a higher total: the authorization is raised to it (an incremental authorization);
   declined, or no verdict in time, refuses the edit and nothing has changed;
4. with stock reserved: the held units released and the new lines reserved, in one
   transaction, all or nothing (``out_of_stock`` naming the SKUs; a raised authorization
   is brought back down);
5. a lower total: the authorization is lowered to it (a partial reversal);
6. the order takes the new lines and total, its new shipments, one more edit, the
   ``order_edited`` step, and the hold rules run again before dispatch.

The order's own path holds the lock while it reserves its first round and when it sets
the flag that starts dispatch, so an edit and a reservation, or an edit and a dispatch,
never both act on the same lines: the workflow is the one place that decides.

Part of :class:`workflows.order.OrderWorkflow` (``wf``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityConfig

with workflow.unsafe.imports_passed_through():
    from oms.contract import LIVE_PATCHES, ORDER_WORKFLOW, ErrorType, PaymentSteps, StockSteps
    from oms.domain import edits as rules
    from oms.domain.messages import (
        ActionResult,
        OrderEdit,
        PaymentCommand,
        ReserveResult,
        ShipmentView,
        SkuQuantity,
        StockEdit,
    )
    from oms.domain.status import ShipmentStatus
    from workflows.options import MUST_COMPLETE, NON_RETRYABLE

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

ORDER_EDITS = LIVE_PATCHES[ORDER_WORKFLOW][1]
# A step the edit's caller waits for: a partner that does not answer within this refuses
# the edit (503 over HTTP) instead of holding the order.
BOUNDED: ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=5),
    "schedule_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=2),
        non_retryable_error_types=NON_RETRYABLE,
    ),
}


class Edits:
    def __init__(self, wf: OrderWorkflow) -> None:
        self.wf = wf
        # One edit at a time; the order's first reservation and its dispatch flag wait
        # for an edit in flight (``wf.edits.lock``).
        self.lock = asyncio.Lock()
        self.attempts = 0  # edits that reached their steps, refused or not (payment keys)

    def refusal(self, edit: OrderEdit) -> rules.Refusal | None:
        wf, inp = self.wf, self.wf.inp
        state = rules.EditState(
            status=wf.view.status,
            dispatching=wf.dispatching,
            stopping=wf.stopping,
            cancelling=wf.cancel_request is not None,
            authorized=wf.authorized,
            backordered=bool(wf.stock.missing),
            foreign=(
                inp.prepaid
                or inp.awaiting_payment
                or inp.shadow
                or inp.imported is not None
                or wf.view.platform is not None
            ),
            lines=wf.view.lines,
        )
        return rules.edit_refusal(state, edit.lines)

    def validate(self, edit: OrderEdit) -> None:
        if (refusal := self.refusal(edit)) is not None:
            refuse(refusal.reason, refusal.message)

    async def apply(self, edit: OrderEdit) -> ActionResult:
        wf = self.wf
        async with self.lock:
            self.validate(edit)  # the order may have moved on while this edit waited
            workflow.patched(ORDER_EDITS)
            self.attempts += 1
            part = str(self.attempts)
            view = wf.view
            old_lines, old_total = list(view.lines), view.totals.total
            new_total = rules.lines_total(edit.lines, view.currency)
            higher = Decimal(new_total) > Decimal(old_total)
            lower = Decimal(new_total) < Decimal(old_total)
            reserved = wf.stock.reserved
            wanted = rules.demand(edit.lines)
            if reserved and higher:
                await self._stock(wanted, check_only=True)
            if higher:
                await self._raise_authorization(part, new_total)
            result: ReserveResult | None = None
            if reserved:
                try:
                    result = await self._stock(wanted, check_only=False)
                except ApplicationError:
                    if higher:  # stock went meanwhile: the authorization goes back down
                        await self._adjust(f"{part}-undo", old_total, must_complete=True)
                    raise
            if lower:
                await self._adjust(part, new_total, must_complete=True)
            self._take(edit, result, new_total)
            view.edits += 1
            wf.holds.rules_due = True
            data = rules.edit_record(
                view.edits, edit.by, old_lines, edit.lines, old_total, new_total, edit.reason
            )
            if result is not None:
                data["shipments"] = [
                    {"id": s.id, "warehouse_id": s.warehouse_id} for s in view.shipments
                ]
            wf.record("order_edited", None, data)
            return ActionResult(True, view.status)

    def _take(self, edit: OrderEdit, result: ReserveResult | None, total: str) -> None:
        """The order as edited: its lines, total, authorization and, if it was reserved,
        the shipments of its new reservation (planned, none handed over yet)."""
        view, stock = self.wf.view, self.wf.stock
        view.lines = list(edit.lines)
        view.totals.subtotal = total
        view.totals.total = total
        view.payment.authorized = total
        if result is not None:
            stock.took_round()
            view.shipments = []
            for a in result.allocations:
                view.shipments.append(
                    ShipmentView(a.shipment_id, a.warehouse_id, ShipmentStatus.PENDING, a.lines)
                )
                stock.took_shipment()

    async def _stock(self, lines: list[SkuQuantity], check_only: bool) -> ReserveResult:
        wf = self.wf
        req = StockEdit(wf.view.id, lines, wf.stock.next_round, wf.stock.next_shipment, check_only)
        # The check is bounded (nothing is written); the change itself must complete.
        options = BOUNDED if check_only else MUST_COMPLETE
        try:
            result: ReserveResult = await workflow.execute_activity_method(
                StockSteps.edit_stock, req, **options
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.OUT_OF_STOCK:
                skus = list(cause.details[0]) if cause.details else []
                refuse(
                    rules.OUT_OF_STOCK,
                    f"not enough stock for: {', '.join(skus)}; nothing was changed",
                    skus,
                )
            refuse(rules.STOCK_UNAVAILABLE, "the stock could not be checked; nothing was changed")
        return result

    async def _raise_authorization(self, part: str, total: str) -> None:
        try:
            await self._adjust(part, total, must_complete=False)
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.PAYMENT_DECLINED:
                refuse(
                    rules.PAYMENT_DECLINED,
                    f"the card refused the new total {total}; nothing was changed",
                )
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.PAYMENT_REJECTED:
                refuse(
                    rules.PAYMENT_REJECTED,
                    f"the payment gateway refused to raise the authorization ({cause.message}); "
                    "nothing was changed",
                )
            # No verdict in time: the gateway may have raised it; captures take only what
            # ships, and the order's void lets go of it all.
            refuse(
                rules.PAYMENT_UNAVAILABLE,
                "the payment gateway did not answer; nothing was changed, try again shortly",
            )

    async def _adjust(self, part: str, amount: str, must_complete: bool) -> None:
        """Move the authorization to ``amount``. Down (or back down), it must happen:
        retried until the gateway answers; a gateway that refuses it outright leaves the
        order as edited (its captures take only what ships) and tells operators."""
        wf, view = self.wf, self.wf.view
        cmd = PaymentCommand(view.id, "adjust", amount, view.currency, part=part)
        if not must_complete:
            await workflow.execute_activity_method(
                PaymentSteps.adjust_authorization, cmd, **BOUNDED
            )
            return
        try:
            await workflow.execute_activity_method(
                PaymentSteps.adjust_authorization, cmd, **MUST_COMPLETE
            )
        except ActivityError as err:
            data = {"amount": amount, "error": str(err.cause)}
            wf.record("payment_adjust_failed", None, data)
            await wf.alert("payment_adjust_failed", data)


def refuse(reason: str, message: str, *facts: object) -> NoReturn:
    """Refuse the edit: the caller reads the reason code first in the failure's details."""
    raise ApplicationError(message, reason, *facts, type=ErrorType.EDIT_REFUSED, non_retryable=True)
