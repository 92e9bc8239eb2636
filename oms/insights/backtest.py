"""The forecast held against what happened: a history is cut ``holdout`` days before its
end, forecast from the part before, and the forecast's errors over the held-out days are
compared with two simple forecasts over the same days:

- **naive**: the last day before the cut, every day;
- **seasonal naive**: the last week before the cut, repeated.

The figure is the MASE against each, as the ratio of mean absolute errors over the
held-out days (the forecast's MAE divided by the simple forecast's MAE, all SKUs of a
group summed): below 1 the forecast is better. Per demand class (as classified on the
part before the cut) and overall.

``synthetic`` makes a history with the shapes real catalogues have: steady sellers with a
trend and a weekly rhythm, promotions (a few days at several times the usual rate),
erratic sellers, and intermittent and lumpy ones that sell on a few days only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from oms.insights.forecast import Array, DemandClass, Forecast, forecast_many

KINDS = ("trend_weekly", "promotions", "erratic", "intermittent", "lumpy")
# The share of each kind among the SKUs made.
MIX = (0.3, 0.2, 0.15, 0.2, 0.15)


@dataclass(frozen=True)
class History:
    skus: list[str]
    kinds: list[str]  # how each SKU was made (one of KINDS)
    units: Array  # (skus, days)


def synthetic(skus: int, days: int, seed: int) -> History:
    """``skus`` SKUs of ``days`` days each, from ``seed`` (the same arguments, the same
    history)."""
    rng = np.random.default_rng(seed)
    kinds = list(rng.choice(KINDS, size=skus, p=MIX))
    t = np.arange(days)
    rows = []
    for kind in kinds:
        if kind in ("trend_weekly", "promotions"):
            base = rng.uniform(3, 40)
            slope = rng.uniform(-0.3, 1.2) * base / days  # up to +120 % over the history
            weekly = 1 + rng.uniform(0.15, 0.5) * np.sin(2 * np.pi * (t + rng.integers(7)) / 7)
            rate = np.clip((base + slope * t) * weekly, 0.2, None)
            if kind == "promotions":
                for start in rng.choice(days - 3, size=max(1, days // 45), replace=False):
                    rate[start : start + rng.integers(1, 4)] *= rng.uniform(2.5, 5)
            rows.append(rng.poisson(rate))
        elif kind == "erratic":
            base = rng.uniform(2, 15)
            rows.append(np.round(rng.gamma(0.8, base / 0.8, size=days)))
        elif kind == "intermittent":
            p = rng.uniform(0.08, 0.45)
            rows.append((rng.random(days) < p) * (1 + rng.poisson(rng.uniform(0.3, 2), days)))
        else:  # lumpy
            p = rng.uniform(0.05, 0.3)
            rows.append((rng.random(days) < p) * rng.geometric(1 / rng.uniform(3, 15), days))
    units = np.array(rows, dtype=float).reshape(skus, days)
    return History([f"SYN-{i:05d}" for i in range(skus)], kinds, units)


@dataclass
class Group:
    skus: int = 0
    actual: float = 0.0
    model: float = 0.0  # sums of absolute errors over the held-out days
    naive: float = 0.0
    seasonal: float = 0.0

    def add(self, actual: Array, forecast: Array, naive: Array, seasonal: Array) -> None:
        self.skus += 1
        self.actual += float(actual.sum())
        self.model += float(np.abs(actual - forecast).sum())
        self.naive += float(np.abs(actual - naive).sum())
        self.seasonal += float(np.abs(actual - seasonal).sum())

    @property
    def mase_naive(self) -> float | None:
        return self.model / self.naive if self.naive else None

    @property
    def mase_seasonal(self) -> float | None:
        return self.model / self.seasonal if self.seasonal else None


@dataclass
class BacktestReport:
    skus: int
    days: int
    holdout: int
    seconds: float  # fitting and forecasting only
    classes: dict[str, Group] = field(default_factory=dict)
    overall: Group = field(default_factory=Group)


def backtest(units: Array, holdout: int = 28) -> BacktestReport:
    """Cut each row of ``units`` (SKUs, days) ``holdout`` days before its end, forecast
    from the rest, and compare (module docstring)."""
    y = np.asarray(units, dtype=float)
    n, days = y.shape
    if days <= holdout + 7:
        raise ValueError(f"a backtest needs more than {holdout + 7} days")
    train, test = y[:, :-holdout], y[:, -holdout:]
    began = time.perf_counter()
    forecasts: list[Forecast] = forecast_many(train, holdout)
    seconds = time.perf_counter() - began
    report = BacktestReport(n, days, holdout, seconds)
    for i, f in enumerate(forecasts):
        if f.demand_class is DemandClass.NONE and not test[i].any():
            continue  # nothing to forecast, nothing sold: no error of anyone's
        naive = np.full(holdout, train[i, -1])
        seasonal = np.resize(train[i, -7:], holdout)
        forecast = np.array(f.daily)
        group = report.classes.setdefault(f.demand_class.value, Group())
        for g in (group, report.overall):
            g.add(test[i], forecast, naive, seasonal)
    return report


def render(report: BacktestReport) -> str:
    def ratio(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [
        f"backtest: {report.skus} SKUs, {report.days} days, the last {report.holdout} held "
        f"out; fitted and forecast in {report.seconds:.2f} s",
        f"{'class':<13}{'skus':>6}{'units':>10}{'MAE':>9}{'MAE naive':>11}"
        f"{'MAE s-naive':>13}{'MASE naive':>12}{'MASE s-naive':>14}",
    ]
    order = [c.value for c in DemandClass]
    for name, g in [
        *sorted(report.classes.items(), key=lambda kv: order.index(kv[0])),
        ("overall", report.overall),
    ]:
        days = max(g.skus * report.holdout, 1)
        lines.append(
            f"{name:<13}{g.skus:>6}{g.actual:>10.0f}{g.model / days:>9.3f}"
            f"{g.naive / days:>11.3f}{g.seasonal / days:>13.3f}"
            f"{ratio(g.mase_naive):>12}{ratio(g.mase_seasonal):>14}"
        )
    return "\n".join(lines)
