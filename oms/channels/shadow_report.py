"""The side-by-side report: per decision, how often the OMS (in shadow) and the current
system agree, and every order where they differ with both decisions and the OMS's evidence.

Decisions compared, where both sides say something:

- ``held``: the OMS's hold rules would hold the order (``shadow.hold_reasons``);
- ``cancelled``: the order was cancelled before the OMS decided (a platform cancel, an
  unpaid order's timeout), or the OMS would have failed it: stock short
  (``shadow.short``) on a channel whose shortage policy is ``fail`` as it was when the
  order arrived;
- ``warehouses`` and ``split``: where the goods would ship from (orders neither side
  cancelled);
- ``ship_time``: nothing ships in shadow, so the moment the OMS would have released the
  order to the warehouse (its decision's time plus the cancel window it would have
  waited) is set against the current system's ``shipped_at``, for orders neither side
  held or cancelled: the difference's distribution in hours (p50, p90), and ``agreed``
  when it is within the tolerance.

Pure: ``oms.shadow_runs`` reads the orders and the loaded export.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from oms.channels.shadow import Decision

DECISIONS = ("held", "cancelled", "warehouses", "split", "ship_time")
DEFAULT_TOLERANCE_H = 24.0


@dataclass
class OmsOrder:
    """What the OMS recorded for one of the channel's orders."""

    external_id: str
    order_id: str
    mode: str  # live | shadow: the mode the order got at intake
    status: str
    created_at: datetime
    shadow: Mapping[str, Any] | None = None  # the view's shadow part, once decided
    decided_at: datetime | None = None  # when the decision was recorded
    # From the order's first event: would a shortage wait (True) or fail it (False);
    # the cancel window it would have waited. None for orders taken before they were kept.
    backorder: bool | None = None
    release_delay_s: float | None = None


@dataclass
class Difference:
    external_id: str
    order_id: str
    decision: str
    oms: str
    current: str
    hold_reasons: list[str] = field(default_factory=list)
    short: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "order_id": self.order_id,
            "decision": self.decision,
            "oms": self.oms,
            "current": self.current,
            "hold_reasons": self.hold_reasons,
            "short": self.short,
        }


@dataclass
class Report:
    oms_orders: int = 0  # the channel's shadow orders (since ``since``)
    current_orders: int = 0  # the current system's loaded orders
    both: int = 0
    only_oms: list[str] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    # Orders in the export that the OMS handled live (a pilot's country, after a switch).
    live_in_oms: list[str] = field(default_factory=list)
    agreement: dict[str, tuple[int, int]] = field(default_factory=dict)
    ship_hours: list[float] = field(default_factory=list)  # current minus OMS, hours
    tolerance_h: float = DEFAULT_TOLERANCE_H
    differences: list[Difference] = field(default_factory=list)

    def rate(self, decision: str) -> float | None:
        agreed, compared = self.agreement.get(decision, (0, 0))
        return agreed / compared if compared else None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in DECISIONS:
            agreed, compared = self.agreement.get(name, (0, 0))
            out[name] = {"compared": compared, "agreed": agreed, "rate": self.rate(name)}
        hours = sorted(self.ship_hours)
        out["ship_time"].update(
            {
                "tolerance_h": self.tolerance_h,
                "p50_h": _round(percentile(hours, 50)),
                "p90_h": _round(percentile(hours, 90)),
                "min_h": _round(hours[0]) if hours else None,
                "max_h": _round(hours[-1]) if hours else None,
            }
        )
        return out


def percentile(ordered: list[float], p: float) -> float | None:
    """The ``p``-th percentile of sorted values, linearly interpolated; None when empty."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def oms_decision(order: OmsOrder, fail_on_shortage: bool) -> tuple[Decision, datetime | None]:
    """The OMS's decision for a shadow order and when it would have released it to the
    warehouse (None when it would not have: held, cancelled, not decided).
    ``fail_on_shortage``: the channel's policy now, for orders that did not record theirs."""
    shadow = order.shadow
    if order.status == "cancelled":
        return Decision(order.external_id, cancelled=True), None
    if shadow is None:
        return Decision(order.external_id), None
    held = bool(shadow.get("hold_reasons"))
    short = bool(shadow.get("short"))
    fails = (not order.backorder) if order.backorder is not None else fail_on_shortage
    cancelled = short and fails
    warehouses = frozenset(s["warehouse_id"] for s in shadow.get("shipments") or [])
    decision = Decision(order.external_id, held, warehouses, cancelled)
    release = None
    if not held and not cancelled and not short and order.decided_at is not None:
        release = order.decided_at + timedelta(seconds=order.release_delay_s or 0.0)
    return decision, release


def build(
    oms: Iterable[OmsOrder],
    current: Mapping[str, Decision],
    *,
    since: datetime | None = None,
    fail_on_shortage: bool = True,
    tolerance_h: float = DEFAULT_TOLERANCE_H,
) -> Report:
    """The report over the channel's orders ``oms`` (every mode; only shadow orders taken
    from ``since`` on are compared) and the current system's decisions ``current``."""
    report = Report(tolerance_h=tolerance_h)
    known: set[str] = set()
    for order in sorted(oms, key=lambda o: o.external_id):
        known.add(order.external_id)
        theirs = current.get(order.external_id)
        if order.mode != "shadow":
            if theirs is not None:
                report.live_in_oms.append(order.external_id)
            continue
        if since is not None and order.created_at < since:
            continue
        report.oms_orders += 1
        if theirs is None:
            report.only_oms.append(order.external_id)
            continue
        report.both += 1
        _compare(report, order, theirs, fail_on_shortage)
    report.differences.sort(key=lambda d: (d.external_id, d.decision))
    report.current_orders = len(current)
    report.only_current = sorted(
        ext
        for ext, d in current.items()
        if ext not in known and (since is None or d.shipped_at is None or d.shipped_at >= since)
    )
    return report


def _compare(report: Report, order: OmsOrder, theirs: Decision, fail_on_shortage: bool) -> None:
    ours, release = oms_decision(order, fail_on_shortage)
    shadow = order.shadow or {}
    reasons = [str(x) for x in shadow.get("hold_reasons") or []]
    short = _short(shadow.get("short"))
    neither_cancelled = not ours.cancelled and not theirs.cancelled
    checks: list[tuple[str, Any, Any]] = [
        ("held", ours.held, theirs.held),
        ("cancelled", ours.cancelled, theirs.cancelled),
    ]
    if neither_cancelled:
        checks += [("warehouses", ours.warehouses, theirs.warehouses)]
        checks += [("split", ours.split, theirs.split)]
    for name, a, b in checks:
        if a is None or b is None:
            continue
        same = a == b
        _count(report, name, same)
        if not same:
            report.differences.append(
                Difference(
                    order.external_id, order.order_id, name, show(a), show(b), reasons, short
                )
            )
    comparable = neither_cancelled and not ours.held and not theirs.held
    if comparable and release is not None and theirs.shipped_at is not None:
        hours = (theirs.shipped_at - release).total_seconds() / 3600
        report.ship_hours.append(hours)
        same = abs(hours) <= report.tolerance_h
        _count(report, "ship_time", same)
        if not same:
            report.differences.append(
                Difference(
                    order.external_id,
                    order.order_id,
                    "ship_time",
                    release.isoformat(),
                    theirs.shipped_at.isoformat(),
                    reasons,
                    short,
                )
            )


def _count(report: Report, name: str, same: bool) -> None:
    agreed, compared = report.agreement.get(name, (0, 0))
    report.agreement[name] = (agreed + same, compared + 1)


def _short(value: Any) -> dict[str, int]:
    """The short lines, as the view keeps them (a list of {sku, quantity}) or a mapping."""
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items()}
    return {str(x["sku"]): int(x["quantity"]) for x in value or []}


def show(value: object) -> str:
    if isinstance(value, frozenset):
        return ";".join(sorted(value)) or "-"
    return "yes" if value is True else "no" if value is False else str(value)
