"""What a parcel from a warehouse to a destination is expected to take and to cost.

- **The destination's region** is a coarse key: the country (ISO 3166-1 alpha-2) and an
  *area*, the first two letters or digits of the postal code (``DE``/``10`` is Berlin and
  around it, ``GB``/``SW`` south-west London, ``US``/``94`` the San Francisco bay); an
  address without a postal code takes its ``region`` field instead; the area is empty when
  the address has neither.
- **Delivery times are learned** from the recorded shipments (dispatch to delivery, in
  days) per (warehouse, country, area), rolled up per (warehouse, country) and per
  warehouse: mean, median, p90 and count (:func:`learn`).
- **The estimate for a parcel** (:func:`lead_time_for`) is the most specific of these
  with enough shipments behind it (``min_samples``): the region, else the country, else
  the warehouse overall, else the distance (:func:`distance_days`).
- **Shipping costs** come from a table per (warehouse, country, area) with the same
  fallbacks (an empty country or area is the row for all of them): a base per parcel plus
  an amount per unit; without a row, a default from the distance (:func:`distance_rate`).

Pure rules over plain data; the store loads the rows, the inventory activity and the
evaluation (``oms routing evaluate``) apply them.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from oms.domain.routing import WarehouseStock

ANY = ""  # a key's country or area that stands for all of them
AREA_CHARS = 2
MIN_SAMPLES = 5
# Without history: a day of handling, then 800 km a day on the road.
HANDLING_DAYS = 1.0
KM_PER_DAY = 800.0
# Without a cost row: a parcel's base grows with the distance; each unit adds a little.
DEFAULT_BASE = 4.0
DEFAULT_BASE_PER_KM = 0.005
DEFAULT_PER_UNIT = 0.5

Key = tuple[str, str, str]  # (warehouse_id, country, area)


def region_of(
    country: str | None, postal_code: str | None, region: str | None = None
) -> tuple[str, str]:
    """The destination's (country, area) key; see the module's docstring."""
    code = "".join(ch for ch in (postal_code or "") if ch.isalnum()).upper()
    if code:
        area = code[:AREA_CHARS]
    else:
        area = re.sub(r"\s+", " ", (region or "").strip().upper())[:16]
    return (country or "").strip().upper(), area


@dataclass(frozen=True)
class LeadTime:
    """Delivery days (dispatch to delivery) of the shipments behind one key."""

    count: int
    mean_days: float
    median_days: float
    p90_days: float


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted ``ordered`` by linear interpolation (as PostgreSQL's
    percentile_cont)."""
    if not ordered:
        raise ValueError("no values")
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def summarise(days: Iterable[float]) -> LeadTime:
    ordered = sorted(days)
    return LeadTime(
        len(ordered),
        round(sum(ordered) / len(ordered), 4),
        round(percentile(ordered, 0.5), 4),
        round(percentile(ordered, 0.9), 4),
    )


def learn(samples: Iterable[tuple[str, str, str, float]]) -> dict[Key, LeadTime]:
    """Delivery times per key from (warehouse, country, area, days) samples: each sample
    counts for its region, its country and its warehouse overall. Negative days (a clock
    gone wrong) are left out."""
    groups: dict[Key, list[float]] = defaultdict(list)
    for warehouse, country, area, days in samples:
        if days < 0:
            continue
        keys = {(warehouse, country, area), (warehouse, country, ANY), (warehouse, ANY, ANY)}
        if not country:
            keys = {(warehouse, ANY, ANY)}
        for key in keys:
            groups[key].append(days)
    return {key: summarise(values) for key, values in sorted(groups.items())}


def _keys(warehouse: str, country: str, area: str) -> list[tuple[Key, str]]:
    keys: list[tuple[Key, str]] = []
    if country and area:
        keys.append(((warehouse, country, area), "region"))
    if country:
        keys.append(((warehouse, country, ANY), "country"))
    keys.append(((warehouse, ANY, ANY), "warehouse"))
    return keys


def distance_days(distance_km: float) -> float:
    return round(HANDLING_DAYS + max(distance_km, 0.0) / KM_PER_DAY, 4)


@dataclass(frozen=True)
class Estimate:
    days: float
    p90_days: float
    basis: str  # region | country | warehouse | distance


def lead_time_for(
    learned: Mapping[Key, LeadTime],
    warehouse: str,
    country: str,
    area: str,
    distance_km: float,
    min_samples: int = MIN_SAMPLES,
) -> Estimate:
    """The expected delivery days from ``warehouse`` to (country, area): the most specific
    learned figure with at least ``min_samples`` shipments, else one from the distance."""
    for key, basis in _keys(warehouse, country, area):
        found = learned.get(key)
        if found is not None and found.count >= max(min_samples, 1):
            return Estimate(found.mean_days, found.p90_days, basis)
    days = distance_days(distance_km)
    return Estimate(days, days, "distance")


@dataclass(frozen=True)
class Rate:
    """What a parcel costs: ``base`` plus ``per_unit`` for each unit in it."""

    base: float
    per_unit: float

    def cost(self, units: int) -> float:
        return round(self.base + self.per_unit * units, 2)


def distance_rate(distance_km: float) -> Rate:
    return Rate(
        round(DEFAULT_BASE + DEFAULT_BASE_PER_KM * max(distance_km, 0.0), 2), DEFAULT_PER_UNIT
    )


def rate_for(
    rates: Mapping[Key, Rate], warehouse: str, country: str, area: str, distance_km: float
) -> tuple[Rate, str]:
    """The cost row for a parcel from ``warehouse`` to (country, area), the most specific
    first; the distance's default without one. With the row's basis."""
    for key, basis in _keys(warehouse, country, area):
        if key in rates:
            return rates[key], basis
    return distance_rate(distance_km), "distance"


class BadCosts(ValueError):
    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"line {n}: {m}" for n, m in errors[:5]))


COST_COLUMNS = ("warehouse_id", "country", "area", "base", "per_unit")
_NUMBER = re.compile(r"^[0-9]{1,7}(\.[0-9]{1,4})?$")


def parse_costs(text: str) -> list[tuple[str, str, str, float, float]]:
    """Cost rows from CSV with the header ``warehouse_id,country,area,base,per_unit``
    (country and area may be empty: the row for all of them; an area needs its country),
    or :class:`BadCosts` naming every bad line. A key given twice is a bad line."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COST_COLUMNS if c not in header]
    if missing:
        raise BadCosts([(1, f"the header lacks {', '.join(missing)}")])
    rows: list[tuple[str, str, str, float, float]] = []
    errors: list[tuple[int, str]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        warehouse = row.get("warehouse_id", "")
        country = row.get("country", "").upper()
        area = row.get("area", "").upper()
        problems = []
        if not warehouse:
            problems.append("warehouse_id is empty")
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            problems.append(f"country is not two letters: {country!r}")
        if area and not country:
            problems.append("an area needs its country")
        if len(area) > 16:
            problems.append("area is longer than 16 characters")
        for name in ("base", "per_unit"):
            if not _NUMBER.match(row.get(name, "")):
                problems.append(f"{name} is not an amount >= 0: {row.get(name, '')!r}")
        key = (warehouse, country, area)
        if not problems and key in seen:
            problems.append(f"the same warehouse, country and area as line {seen[key]}")
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        seen[key] = line
        rows.append((warehouse, country, area, float(row["base"]), float(row["per_unit"])))
    if errors:
        raise BadCosts(errors)
    if not rows:
        raise BadCosts([(1, "no rows")])
    return rows


def with_expectations(
    stocks: Sequence[WarehouseStock],
    learned: Mapping[Key, LeadTime],
    rates: Mapping[Key, Rate],
    region: tuple[str, str],
    min_samples: int = MIN_SAMPLES,
) -> list[WarehouseStock]:
    """The stocks with their expected delivery days to ``region`` and their parcel cost
    (from their ``distance_km`` where nothing was learned or loaded)."""
    country, area = region
    out = []
    for s in stocks:
        estimate = lead_time_for(learned, s.warehouse_id, country, area, s.distance_km, min_samples)
        rate, _ = rate_for(rates, s.warehouse_id, country, area, s.distance_km)
        out.append(replace(s, days=estimate.days, base_cost=rate.base, unit_cost=rate.per_unit))
    return out
