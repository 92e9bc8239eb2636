"""Payment steps: authorize, capture, void, and an edited order's adjustment of its
authorization. Each is idempotent by ``<order id>-<step>``.

The OMS ledger (``payments``) keeps one settled row (succeeded or declined) per key, and a
``failed`` row for every attempt that did not reach a verdict (gateway down, request
refused). A step already settled in the ledger is answered from it without calling the
gateway again.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import PAYMENT_DECLINED, PAYMENT_REJECTED, business_error
from oms.adapters.payment_gateway import (
    GatewayRejected,
    GatewayResult,
    GatewayUnavailable,
    PaymentGateway,
)
from oms.contract import PaymentSteps
from oms.domain.ids import idempotency_key
from oms.domain.messages import PaymentCommand, PaymentOutcome
from oms.logging import get_logger
from oms.store import payments

log = get_logger(__name__)


class PaymentActivities(PaymentSteps):
    def __init__(self, engine: AsyncEngine, gateway: PaymentGateway) -> None:
        self._engine = engine
        self._gateway = gateway

    async def _settled(self, key: str, kind: str) -> PaymentOutcome | None:
        row = await payments.settled(self._engine, key)
        if row is None:
            return None
        return PaymentOutcome(kind, row.status, str(row.amount), row.gateway_reference)

    async def _record(self, cmd: PaymentCommand, key: str, result: GatewayResult) -> None:
        await payments.record(
            self._engine,
            order_id=cmd.order_id,
            kind=cmd.kind,
            status=result.status,
            amount=Decimal(cmd.amount),
            currency=cmd.currency,
            key=key,
            reference=result.reference,
            error=result.message or None,
        )

    async def _run(self, cmd: PaymentCommand, call: str) -> PaymentOutcome:
        step = f"{cmd.kind}-{cmd.part}" if cmd.part else cmd.kind
        key = idempotency_key(cmd.order_id, step)
        log.info(
            "payment_step",
            order_id=cmd.order_id,
            kind=cmd.kind,
            key=key,
            attempt=activity.info().attempt,
        )
        outcome = await self._settled(key, cmd.kind)
        if outcome is None:
            result = await self._call_gateway(cmd, key, call)
            await self._record(cmd, key, result)
            outcome = await self._settled(key, cmd.kind)
            assert outcome is not None
        if outcome.status == "declined":
            raise business_error(PAYMENT_DECLINED, f"{cmd.kind} declined by the gateway")
        return outcome

    async def _call_gateway(self, cmd: PaymentCommand, key: str, call: str) -> GatewayResult:
        try:
            if call == "authorize":
                return await self._gateway.authorize(
                    key=key, amount=cmd.amount, currency=cmd.currency, token=cmd.token
                )
            if call == "void_by_key":
                auth_key = idempotency_key(cmd.order_id, "authorize")
                return await self._gateway.void_by_key(key=key, authorization_key=auth_key)
            authorization = await self._authorization_reference(cmd.order_id)
            if call == "capture":
                return await self._gateway.capture(
                    key=key, authorization=authorization, amount=cmd.amount
                )
            if call == "adjust":
                return await self._gateway.adjust(
                    key=key, authorization=authorization, amount=cmd.amount
                )
            return await self._gateway.void(key=key, authorization=authorization)
        except GatewayUnavailable as exc:
            await self._record(cmd, key, GatewayResult("failed", None, str(exc)[:500]))
            # Retryable: the workflow's retry policy sends the same key again.
            raise ApplicationError(str(exc), type="GatewayUnavailable") from exc
        except GatewayRejected as exc:
            await self._record(cmd, key, GatewayResult("failed", None, str(exc)[:500]))
            raise business_error(PAYMENT_REJECTED, str(exc)) from exc

    async def _authorization_reference(self, order_id: str) -> str:
        outcome = await self._settled(idempotency_key(order_id, "authorize"), "authorize")
        if outcome is None or outcome.status != "succeeded" or not outcome.reference:
            raise business_error(PAYMENT_REJECTED, "the order has no successful authorization")
        return outcome.reference

    @activity.defn
    async def authorize_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        return await self._run(cmd, "authorize")

    @activity.defn
    async def capture_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        return await self._run(cmd, "capture")

    @activity.defn
    async def adjust_authorization(self, cmd: PaymentCommand) -> PaymentOutcome:
        """An edited order's authorization moved to its new total (``cmd.amount``), key
        ``<id>-adjust-<part>``: the ledger's ``adjust`` entry carries the new amount."""
        return await self._run(cmd, "adjust")

    @activity.defn
    async def void_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """Void the authorization. Declined: nothing to void. No verdict recorded (the
        gateway was down, or its answer was lost): it may have authorized all the same,
        so the void goes to the gateway by the authorization's idempotency key."""
        auth = await self._settled(idempotency_key(cmd.order_id, "authorize"), "authorize")
        if auth is not None and auth.status != "succeeded":
            return PaymentOutcome("void", "skipped", "0")
        if auth is None:
            return await self._void_unknown(cmd)
        return await self._run(cmd, "void")

    async def _void_unknown(self, cmd: PaymentCommand) -> PaymentOutcome:
        key = idempotency_key(cmd.order_id, "void")
        auth_key = idempotency_key(cmd.order_id, "authorize")
        outcome = await self._settled(key, "void")
        if outcome is not None:
            return outcome
        result = await self._call_gateway(cmd, key, "void_by_key")
        if result.status == "nothing_to_void":
            log.info("void_nothing_authorized", order_id=cmd.order_id, key=auth_key)
            return PaymentOutcome("void", "skipped", "0")
        log.warning("orphaned_authorization_voided", order_id=cmd.order_id, key=auth_key)
        await self._record(cmd, key, result)
        outcome = await self._settled(key, "void")
        assert outcome is not None
        return outcome

    @activity.defn
    async def record_platform_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """The sales platform charged the buyer: one ``platform`` entry in the ledger (key
        ``<id>-platform``), with the platform's reference; written once however often
        this runs."""
        return await self._record_taken(cmd, "platform")

    @activity.defn
    async def record_imported_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """The old system charged the buyer of an imported order: one ``imported`` entry
        in the ledger (key ``<id>-imported``), with the old system's reference; written
        once however often this runs."""
        return await self._record_taken(cmd, "imported")

    async def _record_taken(self, cmd: PaymentCommand, kind: str) -> PaymentOutcome:
        """A payment someone else took, recorded as succeeded without a gateway call."""
        key = idempotency_key(cmd.order_id, kind)
        outcome = await self._settled(key, kind)
        if outcome is None:
            result = GatewayResult("succeeded", cmd.reference or None, "")
            await self._record(replace(cmd, kind=kind), key, result)
            outcome = await self._settled(key, kind)
            assert outcome is not None
        return outcome
