"""A return's steps (docs/returns.md): its records, the label and the warehouse's notice,
the warehouse's counts with the restock, and the resolution (a refund to pay, an exchange
order, a store credit). Each is idempotent by the return's id: rows are written once,
partners are called with the return's id as their key, the restock marks its lines in
the same transaction, the exchange order's id comes from the return's."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from oms.adapters.carrier import Carrier, CarrierRejected, CarrierUnavailable
from oms.adapters.wms import WarehouseSystem, WmsRejected, WmsUnavailable
from oms.contract import ORDER_WORKFLOW, ReturnSteps
from oms.domain.ids import order_id_for, order_workflow_id
from oms.domain.messages import (
    OrderLine,
    OrderView,
    PaymentView,
    PlatformView,
    SkuQuantity,
    Totals,
)
from oms.domain.money import format_amount
from oms.domain.return_messages import (
    ReceiveRequest,
    ReceiveResult,
    ResolveRequest,
    ResolveResult,
    ReturnLabelRequest,
    ReturnRecord,
)
from oms.domain.returns import Resolution, ReturnStatus, refund_value
from oms.logging import get_logger
from oms.order_start import START_TIMEOUT_S, initial_search_attributes, order_input
from oms.settings import Settings
from oms.store import orders
from oms.store import returns as store

log = get_logger(__name__)


def exchange_external_id(return_id: str) -> str:
    """The exchange order's reference in its channel: one per return, so starting it
    again finds the same order."""
    return f"exchange-{return_id}"


def exchange_view(original: OrderView, return_id: str, units: list[SkuQuantity]) -> OrderView:
    """The replacement order: the original's customer, address, channel and prices for the
    accepted units, paid by the return (a payment recorded, never charged)."""
    external_id = exchange_external_id(return_id)
    prices = {line.sku: line.unit_price for line in original.lines}
    lines = [OrderLine(u.sku, u.quantity, prices[u.sku]) for u in units]
    total = format_amount(
        sum((Decimal(x.unit_price) * x.quantity for x in lines), Decimal(0)), original.currency
    )
    now = datetime.now(UTC).isoformat()
    return OrderView(
        id=order_id_for(original.channel, external_id),
        channel=original.channel,
        external_id=external_id,
        status="received",
        customer=original.customer,
        shipping_address=original.shipping_address,
        currency=original.currency,
        lines=lines,
        totals=Totals(total, total),
        payment=PaymentView(method="exchange"),
        created_at=now,
        updated_at=now,
        platform=PlatformView(
            platform="native",
            state="paid",
            status="exchange",
            prepaid=True,
            payment_reference=f"exchange:{return_id}",
        ),
    )


class ReturnActivities(ReturnSteps):
    def __init__(
        self, engine: AsyncEngine, settings: Settings, wms: WarehouseSystem, carrier: Carrier
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._wms = wms
        self._carrier = carrier

    @activity.defn
    async def record_return(self, record: ReturnRecord) -> None:
        await store.record_step(
            self._engine,
            return_id=record.return_id,
            order_id=record.order_id,
            status=record.status,
            type_=record.type,
            data=record.data,
            decided_by=record.decided_by,
            decision_note=record.decision_note,
        )

    @activity.defn
    async def send_return_label(self, req: ReturnLabelRequest) -> str:
        notice = {
            "return_id": req.return_id,
            "order_id": req.order_id,
            "warehouse_id": req.warehouse_id,
            "lines": [{"sku": x.sku, "quantity": x.quantity} for x in req.lines],
        }
        try:
            tracking = await self._carrier.return_label(req.return_id, req.warehouse_id)
            await self._wms.expect_return(notice)
        except (CarrierUnavailable, WmsUnavailable, CarrierRejected, WmsRejected) as exc:
            # Retried: a partner down heals, and one that refuses raises an alert through
            # the worker's retry alerts for an operator to look at.
            raise ApplicationError(str(exc)[:300], type=type(exc).__name__) from exc
        await store.set_fields(self._engine, req.return_id, tracking=tracking)
        return tracking

    @activity.defn
    async def receive_return(self, req: ReceiveRequest) -> ReceiveResult:
        counts = {x.sku: (x.restockable, x.damaged, x.missing) for x in req.lines}
        recorded, restocked = await store.receive(
            self._engine,
            return_id=req.return_id,
            order_id=req.order_id,
            warehouse_id=req.warehouse_id,
            counts=counts,
        )
        lines = [
            {"sku": sku, "restockable": r, "damaged": d, "missing": m}
            for sku, (r, d, m) in sorted(recorded.items())
        ]
        await store.record_step(
            self._engine,
            return_id=req.return_id,
            order_id=req.order_id,
            status=ReturnStatus.RECEIVED,
            type_="return_received",
            data={"warehouse_id": req.warehouse_id, "lines": lines},
        )
        accepted = [
            SkuQuantity(sku, r + d) for sku, (r, d, _m) in sorted(recorded.items()) if r + d
        ]
        return ReceiveResult(accepted, restocked)

    @activity.defn
    async def resolve_return(self, req: ResolveRequest) -> ResolveResult:
        row = await orders.row(self._engine, req.order_id)
        if row is None:
            raise ApplicationError(f"no order {req.order_id}", type="OrderNotFound")
        view = dict(row.view)
        if req.resolution == Resolution.REFUND or req.resolution == Resolution.STORE_CREDIT:
            amount = self._value(view, req.accepted)
            if req.resolution == Resolution.STORE_CREDIT:
                return await self._credit(req, view, amount)
            return await self._refund(req, view, amount)
        if req.resolution == Resolution.EXCHANGE and req.accepted:
            return await self._exchange(req, view)
        return ResolveResult()

    def _value(self, view: dict[str, Any], units: list[SkuQuantity]) -> Decimal:
        lines = [(x["sku"], int(x["quantity"]), Decimal(x["unit_price"])) for x in view["lines"]]
        adjustments = [(a["kind"], Decimal(a["amount"])) for a in view.get("adjustments") or []]
        return refund_value(
            lines,
            adjustments,
            {u.sku: u.quantity for u in units},
            view["currency"],
            refund_shipping=self._settings.return_refund_shipping,
        )

    async def _refund(
        self, req: ResolveRequest, view: dict[str, Any], amount: Decimal
    ) -> ResolveResult:
        refund_id = f"{req.return_id}-refund"
        if amount <= 0:
            return ResolveResult()
        written = await store.open_refund(
            self._engine,
            refund_id=refund_id,
            order_id=req.order_id,
            return_id=req.return_id,
            amount=amount,
            currency=view["currency"],
            reason="return",
            by="return",
        )
        if written <= 0:
            return ResolveResult()
        await store.set_fields(self._engine, req.return_id, refund_id=refund_id)
        return ResolveResult(format_amount(written, view["currency"]), refund_id=refund_id)

    async def _credit(
        self, req: ResolveRequest, view: dict[str, Any], amount: Decimal
    ) -> ResolveResult:
        if amount <= 0:
            return ResolveResult()
        credit = await store.grant_credit(
            self._engine,
            return_id=req.return_id,
            order_id=req.order_id,
            customer_id=view["customer"]["id"],
            amount=amount,
            currency=view["currency"],
        )
        written = format_amount(Decimal(credit.amount), view["currency"])
        await store.add_event(
            self._engine,
            req.order_id,
            "store_credit_granted",
            req.return_id,
            {"return_id": req.return_id, "amount": written, "currency": view["currency"]},
        )
        return ResolveResult(written)

    async def _exchange(self, req: ResolveRequest, data: dict[str, Any]) -> ResolveResult:
        original: OrderView = value_to_type(OrderView, data, [])
        view = exchange_view(original, req.return_id, req.accepted)
        record = {
            "id": view.id,
            "channel": view.channel,
            "external_id": view.external_id,
            "key": None,
            "hash": f"exchange:{req.return_id}",
            "customer_id": view.customer.id,
            "token": "",
            "view": _json(view),
            "now": datetime.fromisoformat(view.created_at),
        }
        first = {"total": view.totals.total, "currency": view.currency, "lines": len(view.lines)}
        await orders.insert(self._engine, record, _dumps(first))
        # The start path of every new order (oms.order_start), but nothing goes back to a
        # sales platform: the platform never sold this order.
        inp = replace(order_input(self._settings, view, ""), report_shipments=False)
        try:
            await activity.client().start_workflow(
                ORDER_WORKFLOW,
                inp,
                id=order_workflow_id(view.id),
                task_queue=self._settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=initial_search_attributes(self._settings, view),
                rpc_timeout=timedelta(seconds=START_TIMEOUT_S),
            )
        except WorkflowAlreadyStartedError:
            pass
        await store.set_fields(self._engine, req.return_id, exchange_order_id=view.id)
        await store.add_event(
            self._engine,
            req.order_id,
            "exchange_started",
            req.return_id,
            {"return_id": req.return_id, "exchange_order_id": view.id},
        )
        log.info("exchange_started", order_id=req.order_id, exchange_order_id=view.id)
        return ResolveResult("0", exchange_order_id=view.id)


def _json(view: OrderView) -> str:
    return _dumps(asdict(view))


def _dumps(data: Any) -> str:
    return json.dumps(data)
