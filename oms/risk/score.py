"""The score: rule points plus the model's points, 0 to 100, with the top reasons in words.

    score = min(100, sum of every tripped rule's points + the model's points)

The view lists at most ``MAX_REASONS`` rule reasons (the most points first) and the model's
own reason when it added points; without a model the score is the rule points alone, which
the reason ``no_model`` says (and ``model_version`` is None).
"""

from __future__ import annotations

from oms.domain.messages import RiskReason, RiskView
from oms.risk.model import TrainedModel
from oms.risk.rules import rule_reasons

MAX_REASONS = 4
NO_MODEL = RiskReason("no_model", "no model trained yet: the score is the rule points alone", 0)


def risk_view(
    f: dict[str, float],
    model: TrainedModel | None = None,
    version: str | None = None,
    anomaly: float | None = None,
) -> RiskView:
    """The risk of an order with features ``f``; ``anomaly`` is the model's (computed by the
    caller, possibly for many orders at once)."""
    rules = rule_reasons(f)
    total = sum(r.points for r in rules)
    reasons = rules[:MAX_REASONS]
    if model is None:
        return RiskView(min(100, total), [*reasons, NO_MODEL], None)
    if anomaly is None:
        anomaly = model.anomalies([f])[0]
    found = model.reason(anomaly)
    if found is not None:
        total += found.points
        reasons.append(found)
    return RiskView(min(100, total), reasons, version)


def words(view: RiskView) -> list[str]:
    """The reasons as the timeline carries them: the ones that gave points."""
    return [r.words for r in view.reasons if r.points > 0]
