"""Signs that a parcel was empty (空包): a "delivery" that a shop fakes to make an order
look fulfilled (a brushing order, or a parcel sent without the goods). Two signs, read from
a shipment's steps as the order recorded them:

- ``no_scans``: the carrier never scanned the parcel between the moment it left and its
  delivery (no ``in_transit`` nor ``out_for_delivery`` step): a label printed, a delivery
  reported, nothing carried in between.
- ``too_fast``: it was delivered sooner after it left than a parcel plausibly travels
  (``min_delivery_s``; 0 turns the sign off).

The parcel left at its ``shipped`` step (the goods left the warehouse), or at its
``dispatched`` step when the warehouse never reported shipping it. A parcel that was
already on its way when the OMS took its order over (an imported order) left when the
previous system says (``left_at``); without that moment its speed is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

NO_SCANS = "no_scans"
TOO_FAST = "too_fast"
# The alert on the order, and the one on its shop when several of its orders show a sign.
ORDER_ALERT = "empty_parcel_suspected"
SHOP_ALERT = "empty_parcel_shop"

_SCANS = frozenset({"in_transit", "out_for_delivery"})


@dataclass(frozen=True)
class Step:
    """One step of a shipment: its status (``dispatched``, ``shipped``, ``in_transit``,
    ``out_for_delivery``, ``delivered``) and when the order recorded it."""

    status: str
    at: datetime


@dataclass(frozen=True)
class Policy:
    min_delivery_s: float = 3600.0  # 0: the speed is not judged
    no_scans: bool = True  # whether a delivery without a scan is a sign
    shop_count: int = 3  # orders of one shop with a sign in the window (0: no shop alert)
    shop_window_s: float = 7 * 86400.0

    @property
    def active(self) -> bool:
        return self.no_scans or self.min_delivery_s > 0


@dataclass(frozen=True)
class Verdict:
    signs: tuple[str, ...]
    # Seconds from the moment the parcel left to its delivery (None: not known).
    delivered_in_s: float | None


def judge(
    steps: Sequence[Step],
    policy: Policy,
    *,
    imported: bool = False,
    left_at: datetime | None = None,
) -> Verdict:
    """The signs a delivered shipment shows (none when it was not delivered). ``steps`` in
    the order they were recorded; ``imported``: the parcel was on its way before the OMS
    took its order over, and left at ``left_at`` if the previous system said when."""
    at = next((i for i, s in enumerate(steps) if s.status == "delivered"), None)
    if at is None:
        return Verdict((), None)
    delivered, before = steps[at], steps[:at]
    if imported:
        start = left_at
    else:
        left = [s for s in before if s.status == "shipped"] or [
            s for s in before if s.status == "dispatched"
        ]
        start = left[0].at if left else None
    took = (delivered.at - start).total_seconds() if start is not None else None
    signs: list[str] = []
    if policy.no_scans and not any(s.status in _SCANS for s in before):
        signs.append(NO_SCANS)
    if policy.min_delivery_s > 0 and took is not None and took < policy.min_delivery_s:
        signs.append(TOO_FAST)
    return Verdict(tuple(signs), took)
