"""What crosses Temporal for the nightly forecast: the workflow's input (the run day, set
by the workflow from its own clock when the Schedule leaves it empty) and the activity's
counts. No personal data: SKUs and warehouses are not even carried, only counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from oms.domain.annotations import resolve_annotations


@dataclass
class ForecastRun:
    run_date: str = ""  # YYYY-MM-DD (UTC); empty: the workflow's start day


@dataclass
class ForecastRunResult:
    run_date: str
    series: int = 0  # forecasts stored: SKUs over all warehouses plus warehouse-SKU pairs
    skus: int = 0
    pairs: int = 0
    classes: dict[str, int] = field(default_factory=dict)  # SKUs per demand class
    stockout_risks: int = 0  # pairs that run out within their lead time (alerted)
    reorders: int = 0  # pairs at or below their reorder point
    seconds: float = 0.0  # the whole run; of which reading the history, and fitting
    read_s: float = 0.0
    fit_s: float = 0.0


resolve_annotations(globals())
