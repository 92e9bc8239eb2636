"""The hold check: gather the facts the hold rules need, apply them, score the order's
fake-order risk (oms.risk), return the reasons and the risk.

Idempotent: it records the order's normalised address (the same value each time) and reads;
a retry gives the same answer for the same facts (and the same model version).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.contract import HoldSteps
from oms.domain.holds import RISK_SCORE, HoldFacts, HoldPolicy, address_key, hold_reasons
from oms.domain.messages import HoldCheck, HoldDecision, RiskView
from oms.logging import get_logger
from oms.risk.scorer import RiskScorer
from oms.store import orders

log = get_logger(__name__)


class HoldActivities(HoldSteps):
    def __init__(
        self,
        engine: AsyncEngine,
        policy: HoldPolicy,
        risk: RiskScorer | None = None,
        risk_hold_score: int = 0,
    ) -> None:
        """``risk_hold_score``: hold at or over this risk score; 0 scores nothing."""
        self._engine = engine
        self._policy = policy
        self._risk = risk if risk_hold_score > 0 else None
        self._risk_hold_score = risk_hold_score

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
        risk = await self._score(check.order_id)
        if risk is not None and risk.score >= self._risk_hold_score:
            reasons.append(RISK_SCORE)
        log.info(
            "hold_check",
            order_id=check.order_id,
            reasons=reasons,
            risk_score=risk.score if risk else None,
            risk_reasons=[r.code for r in risk.reasons] if risk else None,
            risk_model=risk.model_version if risk else None,
        )
        return HoldDecision(reasons, risk)

    async def _score(self, order_id: str) -> RiskView | None:
        """The order's risk; None when scoring is off. The database down is retried (the
        activity fails); a fault of the score itself is logged and the order goes on
        unscored, never stopped by it."""
        if self._risk is None:
            return None
        try:
            return await self._risk.score(order_id)
        except (DBAPIError, OSError):
            raise
        except Exception as exc:
            log.error("risk_score_failed", order_id=order_id, error=type(exc).__name__)
            return None
