"""The refund step: give a refund's amount back through the gateway, spread over the
order's captures (docs/returns.md).

Idempotent at every level: the refund's split over the captures is fixed once (its
``refund_parts``, under the order's lock, never more than a capture has left), each part
goes to the gateway under its own key (``<refund id>-<part>``) and is settled in the
ledger (kind ``refund``) under that key, so a retry asks the gateway only for the parts
not yet settled and the gateway answers a repeated key with its first answer. A gateway
that is down is retried (the activity fails, its policy retries it); a refusal is the
refund's outcome, ``failed``, with what did go through.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from oms.adapters.payment_gateway import (
    GatewayRejected,
    GatewayResult,
    GatewayUnavailable,
    PaymentGateway,
)
from oms.contract import RefundSteps
from oms.domain.iso import minor_units
from oms.domain.return_messages import RefundInput, RefundOutcome
from oms.domain.returns import preferred_captures, split_over_captures
from oms.logging import get_logger
from oms.store import orders, payments
from oms.store import returns as store

log = get_logger(__name__)


def _amount(value: Decimal, currency: str) -> str:
    return str(value.quantize(Decimal(1).scaleb(-minor_units(currency))))


class RefundActivities(RefundSteps):
    def __init__(self, engine: AsyncEngine, gateway: PaymentGateway) -> None:
        self._engine = engine
        self._gateway = gateway

    @activity.defn
    async def refund_payment(self, req: RefundInput) -> RefundOutcome:
        refund = await store.get_refund(self._engine, req.refund_id)
        if refund is None:  # written by the API or the return before the workflow starts
            raise ApplicationError(f"no refund {req.refund_id} yet", type="RefundNotFound")
        currency = refund.currency
        if refund.status != "pending":
            return RefundOutcome(
                refund.id, refund.status, _amount(refund.refunded, currency), refund.error
            )
        log.info("refund_step", order_id=req.order_id, refund_id=req.refund_id)
        plan = await self._plan(refund)
        try:
            parts = await store.refund_parts(
                self._engine, refund.id, req.order_id, Decimal(refund.amount), plan
            )
        except ValueError as exc:
            return await self._finish(refund, Decimal(0), str(exc), [])
        authorization = await store.authorization_reference(self._engine, req.order_id)
        refunded = Decimal(0)
        errors: list[str] = []
        for part in parts:
            key = f"{refund.id}-{part.part}"
            settled = await payments.settled(self._engine, key)
            if settled is None:
                result = await self._call(refund, key, authorization, part.amount)
                await self._record(refund, key, part.amount, result)
                settled = await payments.settled(self._engine, key)
                assert settled is not None
            if settled.status == "succeeded":
                refunded += Decimal(part.amount)
            else:
                errors.append(f"part {part.part}: {settled.status}")
        return await self._finish(refund, refunded, "; ".join(errors) or None, parts)

    async def _plan(self, refund: Any) -> Any:
        """How the refund is spread over the captures: a return's draws first on the
        captures of the delivered shipments that carried its units (an order returned
        while another of its shipments is still on its way keeps that one's capture
        whole); any other refund the first capture first."""
        if not refund.return_id:
            return split_over_captures
        found = await store.get(self._engine, refund.return_id)
        row = await orders.row(self._engine, refund.order_id)
        if found is None or row is None:
            return split_over_captures
        skus = [x["sku"] for x in found["lines"]]
        view = dict(row.view)

        def plan(amount: Decimal, left: list[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
            order = preferred_captures(refund.order_id, view, skus, [k for k, _ in left])
            ranked = sorted(left, key=lambda capture: order.index(capture[0]))
            return split_over_captures(amount, ranked)

        return plan

    async def _call(
        self, refund: Any, key: str, authorization: str | None, amount: Decimal
    ) -> GatewayResult:
        currency = refund.currency
        if not authorization:
            return GatewayResult("declined", None, "the order has no authorization to refund")
        try:
            return await self._gateway.refund(
                key=key, authorization=authorization, amount=_amount(Decimal(amount), currency)
            )
        except GatewayUnavailable as exc:
            await self._record(refund, key, amount, GatewayResult("failed", None, str(exc)[:500]))
            # Retryable: the activity's policy sends the same key again.
            raise ApplicationError(str(exc), type="GatewayUnavailable") from exc
        except GatewayRejected as exc:
            # A refusal (more than the gateway holds as captured, a malformed request):
            # settled as declined, so a retry never asks again.
            return GatewayResult("declined", None, str(exc)[:500])

    async def _record(self, refund: Any, key: str, amount: Decimal, result: GatewayResult) -> None:
        await payments.record(
            self._engine,
            order_id=refund.order_id,
            kind="refund",
            status=result.status,
            amount=Decimal(amount),
            currency=refund.currency,
            key=key,
            reference=result.reference,
            error=result.message or None,
        )

    async def _finish(
        self, refund: Any, refunded: Decimal, error: str | None, parts: list[Any]
    ) -> RefundOutcome:
        refund_id = refund.id
        order_id = refund.order_id
        currency = refund.currency
        status = "failed" if error else "succeeded"
        event = {
            "amount": _amount(Decimal(refund.amount), currency),
            "refunded": _amount(refunded, currency),
            "reason": refund.reason,
            "parts": len(parts),
        }
        if refund.return_id:
            event["return_id"] = refund.return_id
        if error:
            event["error"] = error[:300]
        await store.finish_refund(
            self._engine,
            refund_id=refund_id,
            order_id=order_id,
            status=status,
            refunded=refunded,
            error=error,
            event=event,
        )
        log.info("refund_settled", order_id=order_id, refund_id=refund_id, status=status)
        return RefundOutcome(refund_id, status, _amount(refunded, currency), error)
