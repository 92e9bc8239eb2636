"""An open order imported from another system (``oms import``), started at the stage it
had reached there:

- ``paid``: reserve by the channel's routing and shortage policy, then on as any order;
- ``reserved`` at a warehouse: reserve there alone; if it cannot take the whole order,
  the channel's routing and shortage policy, with a timeline entry saying so;
- ``dispatched``: the parcel left before the import: its shipment is recorded with its
  tracking number and followed to delivery by the carrier's events; nothing is reserved
  or committed (the stock levels already exclude the goods).

The payment the old system took is recorded in the ledger as taken (kind ``imported``),
never authorised, captured or voided. The hold rules do not run: the old system accepted
the order (a manual hold and an address change before dispatch still apply). An imported
order that ends without delivery owes its buyer a refund the OMS does not make: it raises
``refund_due`` for finance.

None of this runs for an order whose input has no ``imported`` part, so every other
order issues exactly the commands it did (docs/workflow-changes.md).

Part of :class:`workflows.order.OrderWorkflow` (``wf``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from oms.contract import CarrierSteps, ErrorType, PaymentSteps
    from oms.domain.ids import shipment_id_for
    from oms.domain.messages import (
        FollowRequest,
        ImportedStage,
        PaymentCommand,
        ReserveRequest,
        ShipmentView,
        SkuQuantity,
    )
    from oms.domain.money import format_amount
    from oms.domain.order_rules import merge_lines
    from oms.domain.status import OrderStatus, ShipmentStatus
    from workflows.options import MUST_COMPLETE

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

S = OrderStatus
PAID, RESERVED, DISPATCHED = "paid", "reserved", "dispatched"
HOLD_RULES_SKIPPED = "not run: the old system had accepted the order"


class Imported:
    def __init__(self, wf: OrderWorkflow) -> None:
        self.wf = wf

    @property
    def stage(self) -> ImportedStage:
        assert self.wf.inp.imported is not None
        return self.wf.inp.imported

    @property
    def dispatched(self) -> bool:
        return self.stage.stage == DISPATCHED

    # --- taking the order over ----------------------------------------------------------

    async def take_over(self) -> None:
        """The payment the old system took, into the ledger as taken; the takeover on the
        timeline."""
        wf, view, stage = self.wf, self.wf.view, self.stage
        amount = _amount(stage.paid, view.totals.total, view.currency)
        wf.record(
            "order_taken_over",
            None,
            {
                "stage": stage.stage,
                "source_status": stage.source_status,
                "source_system": stage.source_system,
                "warehouse_id": stage.warehouse_id or "",
                "hold_rules": HOLD_RULES_SKIPPED,
            },
        )
        reference = stage.payment_reference
        cmd = PaymentCommand(view.id, "imported", amount, view.currency, reference=reference)
        await workflow.execute_activity_method(
            PaymentSteps.record_imported_payment, cmd, **MUST_COMPLETE
        )
        view.payment.status = "captured"
        view.payment.authorized = amount
        view.payment.captured = amount
        data = {"amount": amount, "source": "imported", "reference": reference}
        wf.record("payment_authorized", S.PAYMENT_AUTHORIZED, data)

    async def reserve(self) -> None:
        """``reserved`` at W: the whole order at W, else the channel's way; ``paid``: the
        channel's way."""
        wf, stage = self.wf, self.stage
        if stage.stage == RESERVED and stage.warehouse_id:
            if await self._reserve_at(stage.warehouse_id):
                return
            data = {"warehouse_id": stage.warehouse_id, "reason": "short of stock there"}
            wf.record("imported_warehouse_short", None, data)
        await wf.stock.reserve_first()

    async def _reserve_at(self, warehouse_id: str) -> bool:
        """One round at ``warehouse_id`` alone, all or nothing; False if it cannot take it
        all (nothing was reserved)."""
        wf, stock = self.wf, self.wf.stock
        request = ReserveRequest(
            wf.view.id,
            merge_lines([SkuQuantity(line.sku, line.quantity) for line in wf.view.lines]),
            round=stock.next_round,
            first_shipment=stock.next_shipment,
            only=[warehouse_id],
        )
        try:
            result = await wf.records.reserve(request)
        except (ActivityError, ApplicationError) as err:
            failure = err.cause if isinstance(err, ActivityError) else err
            if isinstance(failure, ApplicationError) and failure.type == ErrorType.OUT_OF_STOCK:
                return False
            raise
        stock.took_round()
        return await stock.place(result, "stock_reserved", S.RESERVED, kept_warehouse=True)

    # --- a parcel already on its way ----------------------------------------------------

    def place_shipment(self) -> None:
        """The parcel the old system sent, as the order's one shipment (all its lines)."""
        wf, view, stage = self.wf, self.wf.view, self.stage
        lines = merge_lines([SkuQuantity(line.sku, line.quantity) for line in view.lines])
        shipment = ShipmentView(
            shipment_id_for(view.id, 1),
            stage.warehouse_id or "",
            ShipmentStatus.PENDING,
            lines,
            stage.tracking_number,
            stage.carrier,
        )
        view.shipments.append(shipment)
        wf.stock.took_shipment()

    async def follow(self, shipment: ShipmentView) -> None:
        """Its shipment row, shipped with its tracking number, and the carrier asked for
        its events. A carrier that refuses is an alert; the order goes on waiting for the
        events (an admin may post them by hand)."""
        wf = self.wf
        request = FollowRequest(
            wf.view.id,
            shipment.id,
            shipment.warehouse_id,
            shipment.tracking_number or "",
            shipment.carrier or "",
        )
        try:
            await workflow.execute_activity_method(
                CarrierSteps.follow_shipment, request, **MUST_COMPLETE
            )
        except ActivityError as err:
            data = {"shipment_id": shipment.id, "error": str(err.cause or err)[:500]}
            wf.record("shipment_follow_failed", None, data)
            await wf.alert("carrier_refused", data, shipment_id=shipment.id)

    # --- ending early -------------------------------------------------------------------

    async def refund_due(self, reason: str) -> None:
        """The old system took the money and the order ends undelivered: the refund is
        finance's to make (nothing is voided: there is no authorization here)."""
        wf, view = self.wf, self.wf.view
        amount = _amount(self.stage.paid, view.totals.total, view.currency)
        data: dict[str, Any] = {
            "amount": amount,
            "currency": view.currency,
            "reference": self.stage.payment_reference,
            "reason": reason,
        }
        wf.record("refund_due", None, data)
        await wf.alert("refund_due", data)


def _amount(paid: str, total: str, currency: str) -> str:
    """What the old system took; the order's total when the import says nothing."""
    try:
        value = Decimal(paid or "0")
    except InvalidOperation:
        value = Decimal(0)
    return format_amount(value if value > 0 else Decimal(total), currency)
