"""The order's sales platform: an unpaid order's wait for its payment, a payment the
platform took, the platform's refunds, holds and cancels, the shipments reported back, and
a shadow channel's decisions.

None of this runs for an order whose input leaves the channel fields at their defaults
(an order from our own API, and every order started before channels existed), so their
histories replay unchanged.

Part of :class:`workflows.order.OrderWorkflow` (``wf``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from oms.contract import ChannelSteps, ErrorType, PaymentSteps, StockSteps
    from oms.domain.messages import (
        AfterSale,
        ChannelEvent,
        HoldCheck,
        OperatorAction,
        PaymentCommand,
        ReserveRequest,
        ShadowView,
        ShipmentReport,
        ShipmentView,
        SkuQuantity,
    )
    from oms.domain.order_rules import OrderStopped
    from oms.domain.status import OrderStatus
    from workflows.options import MUST_COMPLETE, ActivityConfig

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

S = OrderStatus
# Hold reasons the platform puts on an order before dispatch; its all-clear lifts them.
REFUND_REQUESTED = "refund_requested"
PLATFORM_HOLD = "platform_hold"
# Telling the platform about a shipment: retried for a day (a platform down for hours
# still hears of it), a refusal is an alert.
REPORT: ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=10),
        non_retryable_error_types=[ErrorType.PLATFORM_REFUSED],
    ),
    "schedule_to_close_timeout": timedelta(days=1),
}
PLAN: ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}


class Channel:
    def __init__(self, wf: OrderWorkflow) -> None:
        self.wf = wf
        self.paid = False
        self.reference: str | None = None
        self.reports: list[asyncio.Task[None]] = []
        # Alerts raised from the platform's messages: the order waits for them before it
        # ends (a message handler itself never waits on an activity).
        self.alerts: list[asyncio.Task[None]] = []

    # --- before fulfilment ------------------------------------------------------------

    async def await_payment(self) -> None:
        """An unpaid order waits in ``received`` (nothing reserved) for the platform's
        payment; the platform closing it, a cancel, or the payment timer ends it."""
        wf = self.wf
        timeout = wf.inp.payment_timeout_s
        data: dict[str, Any] = {"timeout_s": timeout}
        wf.record("payment_awaited", None, data)
        try:
            await workflow.wait_condition(
                lambda: self.paid or wf.cancel_request is not None,
                timeout=timedelta(seconds=timeout) if timeout > 0 else None,
            )
        except TimeoutError:
            raise OrderStopped(S.CANCELLED, "unpaid", {"by": "system"}) from None
        wf.stop_if_cancelled()

    async def record_payment(self) -> None:
        """The platform took the buyer's money: the ledger records it (no gateway call),
        and nothing is authorised, captured or voided by the OMS."""
        view = self.wf.view
        platform = view.platform
        reference = self.reference or (platform.payment_reference if platform else None)
        cmd = PaymentCommand(
            view.id, "platform", view.totals.total, view.currency, reference=reference or ""
        )
        await workflow.execute_activity_method(
            PaymentSteps.record_platform_payment, cmd, **MUST_COMPLETE
        )
        view.payment.status = "captured"
        view.payment.authorized = view.totals.total
        view.payment.captured = view.totals.total
        data = {"amount": view.totals.total, "source": "platform", "reference": reference or ""}
        self.wf.record("payment_authorized", S.PAYMENT_AUTHORIZED, data)

    # --- shadow -----------------------------------------------------------------------

    async def decide_in_shadow(self) -> None:
        """Everything the OMS would decide, recorded, nothing done: no charge, no
        reservation, no dispatch. The order ends ``shadowed``."""
        wf, view = self.wf, self.wf.view
        check = HoldCheck(
            view.id, view.customer.id, view.totals.total, view.currency, view.shipping_address
        )
        reasons = list((await wf.records.check_holds(check)).reasons)
        wf.stop_if_cancelled()
        request = ReserveRequest(
            view.id,
            _units(view.lines),
            round=1,
            partial=wf.inp.split_shipments,
            backorder=wf.inp.backorder,
        )
        plan = await workflow.execute_activity_method(StockSteps.plan_stock, request, **PLAN)
        view.shadow = ShadowView(reasons, plan.allocations, plan.strategy, plan.short)
        data = {
            "hold_reasons": reasons,
            "strategy": plan.strategy,
            "shipments": [
                {"warehouse_id": a.warehouse_id, "lines": {x.sku: x.quantity for x in a.lines}}
                for a in plan.allocations
            ],
            "short": {x.sku: x.quantity for x in plan.short},
        }
        wf.record("order_shadowed", S.SHADOWED, data)

    # --- the platform's messages ------------------------------------------------------

    def on_event(self, event: ChannelEvent) -> None:
        wf, view = self.wf, self.wf.view
        if view.platform is not None and event.platform_status:
            view.platform.status = event.platform_status
        if event.kind == "paid":
            if not self.paid:
                self.paid = True
                self.reference = event.reference
            return
        before_dispatch = wf._cancel_refusal() is None
        if event.kind == "cancelled":
            if before_dispatch:
                by = f"channel:{view.channel}"
                wf.cancel_request = wf.cancel_request or OperatorAction(
                    by, reason=event.platform_status or "closed on the platform"
                )
            elif view.status not in (S.CANCELLED, S.FAILED, S.SHADOWED):
                self._after_sale("cancelled", event)
        elif event.kind in ("refund_requested", "on_hold"):
            reason = REFUND_REQUESTED if event.kind == "refund_requested" else PLATFORM_HOLD
            if before_dispatch:
                wf.holds.request(reason)
            elif event.kind == "refund_requested" and view.status not in (
                S.CANCELLED,
                S.FAILED,
                S.SHADOWED,
            ):
                self._after_sale("refund_requested", event)
        elif event.kind in ("refund_withdrawn", "released"):
            reason = REFUND_REQUESTED if event.kind == "refund_withdrawn" else PLATFORM_HOLD
            wf.holds.lift(reason, OperatorAction(f"channel:{view.channel}", note=event.kind))

    def _after_sale(self, kind: str, event: ChannelEvent) -> None:
        """A refund or cancel after the goods left: a record beside the order and an
        alert for customer service, never a silent change of the order."""
        wf, view = self.wf, self.wf.view
        at = event.at or workflow.now().isoformat()
        view.after_sales.append(AfterSale(kind, at, event.platform_status))
        data = {"kind": kind, "platform_status": event.platform_status}
        wf.record("after_sale", None, data)
        self.alerts.append(asyncio.create_task(wf.alert("after_sale", data)))

    async def alerts_raised(self) -> None:
        if self.alerts:
            await asyncio.gather(*self.alerts)

    # --- after dispatch ---------------------------------------------------------------

    def report(self, shipment: ShipmentView) -> None:
        """Tell the platform the shipment left, with its tracking number (in the
        background: the order goes on; it waits for the reports before it ends)."""
        if self.wf.inp.report_shipments:
            self.reports.append(asyncio.create_task(self._report(shipment)))

    async def _report(self, shipment: ShipmentView) -> None:
        wf, view = self.wf, self.wf.view
        report = ShipmentReport(
            view.id,
            view.channel,
            view.external_id,
            shipment.id,
            shipment.tracking_number,
            shipment.carrier,
            list(shipment.lines),
        )
        try:
            await workflow.execute_activity_method(ChannelSteps.report_shipment, report, **REPORT)
        except ActivityError as err:
            data = {"shipment_id": shipment.id, "error": str(err.cause or err)[:500]}
            wf.record("platform_report_failed", None, data)
            await wf.alert("platform_refused", data, shipment_id=shipment.id)
            return
        wf.record("platform_reported", None, {"shipment_id": shipment.id})

    async def reports_done(self) -> None:
        if self.reports:
            await asyncio.gather(*self.reports)


def _units(lines: list[Any]) -> list[SkuQuantity]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return [SkuQuantity(sku, q) for sku, q in totals.items()]
