"""The hold check: gather the facts the hold rules need, apply them, return the reasons.

Idempotent: it records the order's normalised address (the same value each time) and reads;
a retry gives the same answer for the same facts.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.contract import HoldSteps
from oms.domain.holds import HoldFacts, HoldPolicy, address_key, hold_reasons
from oms.domain.messages import HoldCheck, HoldDecision
from oms.logging import get_logger
from oms.store import orders

log = get_logger(__name__)


class HoldActivities(HoldSteps):
    def __init__(self, engine: AsyncEngine, policy: HoldPolicy) -> None:
        self._engine = engine
        self._policy = policy

    @activity.defn
    async def check_holds(self, check: HoldCheck) -> HoldDecision:
        a = check.address
        # None for a masked address: kept as unknown, and no other order shares it.
        key = address_key(a.line1, a.postal_code, a.city, a.country, a.line2 or "") or None
        row = await orders.hold_facts(
            self._engine,
            check.order_id,
            check.customer_id,
            key,
            self._policy.velocity_window_s,
            max(1, self._policy.velocity_count),
        )
        facts = HoldFacts(
            total=Decimal(check.total),
            currency=check.currency,
            country=a.country,
            earlier_orders=int(row.earlier_orders),
            customers_at_address=int(row.customers_at_address),
        )
        reasons = hold_reasons(self._policy, facts)
        log.info("hold_check", order_id=check.order_id, reasons=reasons)
        return HoldDecision(reasons)
