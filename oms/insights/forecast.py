"""Demand forecasts from daily units: each series classed by how it sells, then the method
that fits its class (docs/intelligence-forecast.md).

A series is the units ordered per UTC day, oldest first, ending the day before the run.
It starts at its first day with demand (the days before it was sold are not zero demand).

- **Class** (Syntetos-Boylan): ADI, the average days between days with demand, and CV²,
  the squared coefficient of variation of the units on those days. ADI < 1.32 and
  CV² < 0.49 is ``smooth``; ADI < 1.32 with larger CV² ``erratic``; ADI >= 1.32 with small
  CV² ``intermittent``; both large ``lumpy``. Fewer than ``MIN_HISTORY`` days since the
  first sale (or fewer than three days with demand) is ``new``; no demand at all ``none``.
- **Method**: ``smooth`` and ``erratic`` series get additive Holt-Winters with a damped
  trend and a weekly season; ``intermittent`` ones Croston with the Syntetos-Boylan bias
  correction (SBA); ``lumpy`` ones TSB (Teunter-Syntetos-Babai), whose demand probability
  decays while nothing sells; ``new`` ones the mean of their days.
- **Fit**: each method's smoothing parameters are chosen from a grid by the smallest sum
  of squared one-day-ahead errors over the series' history; every series of a method is
  fitted at once, the grid along a second axis (numpy), so thousands of series take a
  second or two. ``sigma`` is the root mean squared one-day-ahead error of the chosen
  parameters: the forecast error the safety stock is sized by.

Everything here is pure: arrays in, ``Forecast`` values out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

SEASON = 7  # weekly: days are aligned on their absolute index, so Mondays share a slot
ADI_CUT = 1.32
CV2_CUT = 0.49
MIN_HISTORY = 28  # days since the first sale before a series is fitted (two weeks to
# start Holt-Winters, two weeks of errors to choose its parameters)
MIN_DEMAND_DAYS = 3
BLOCK = 256  # series fitted together

Array = NDArray[np.float64]


class DemandClass(StrEnum):
    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"
    NEW = "new"
    NONE = "none"


class Method(StrEnum):
    HOLT_WINTERS = "holt_winters"
    SBA = "croston_sba"
    TSB = "tsb"
    MEAN = "mean"
    ZERO = "zero"


METHOD_OF = {
    DemandClass.SMOOTH: Method.HOLT_WINTERS,
    DemandClass.ERRATIC: Method.HOLT_WINTERS,
    DemandClass.INTERMITTENT: Method.SBA,
    DemandClass.LUMPY: Method.TSB,
    DemandClass.NEW: Method.MEAN,
    DemandClass.NONE: Method.ZERO,
}

# The parameter grids (alpha, beta, gamma, phi for Holt-Winters; alpha for SBA; alpha and
# beta for TSB).
HW_GRID = np.array(
    list(
        itertools.product(
            (0.05, 0.1, 0.2, 0.35, 0.5),  # alpha: level
            (0.0, 0.03, 0.1),  # beta: trend
            (0.05, 0.15, 0.3),  # gamma: season
            (0.85, 0.95),  # phi: trend damping
        )
    )
)
SBA_GRID = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4])
TSB_GRID = np.array(list(itertools.product((0.05, 0.1, 0.2, 0.3), (0.02, 0.05, 0.1, 0.2))))


@dataclass(frozen=True)
class Classification:
    demand_class: DemandClass
    adi: float | None  # None without demand
    cv2: float | None
    start: int  # index of the first day with demand (len(series) when there is none)


@dataclass(frozen=True)
class Forecast:
    demand_class: DemandClass
    method: Method
    daily: tuple[float, ...]  # units per day for the horizon, the run day first
    sigma: float  # RMS one-day-ahead error (units per day)
    adi: float | None
    cv2: float | None
    params: tuple[float, ...]  # the chosen parameters (empty for mean and zero)
    history_days: int  # days since the first sale
    last_7: float  # units of the last 7 days of history
    last_28: float  # units of the last 28 days

    @property
    def next_7(self) -> float:
        return float(sum(self.daily[:7]))


def classify(series: Array) -> Classification:
    """The series' demand class and the figures it is read from."""
    y = np.asarray(series, dtype=float)
    days = np.flatnonzero(y > 0)
    if days.size == 0:
        return Classification(DemandClass.NONE, None, None, len(y))
    start = int(days[0])
    active = len(y) - start
    sizes = y[days]
    adi = active / days.size
    mean = float(sizes.mean())
    cv2 = float((sizes.std() / mean) ** 2) if mean > 0 else 0.0
    if active < MIN_HISTORY or days.size < MIN_DEMAND_DAYS:
        return Classification(DemandClass.NEW, adi, cv2, start)
    if adi < ADI_CUT:
        kind = DemandClass.SMOOTH if cv2 < CV2_CUT else DemandClass.ERRATIC
    else:
        kind = DemandClass.INTERMITTENT if cv2 < CV2_CUT else DemandClass.LUMPY
    return Classification(kind, adi, cv2, start)


@dataclass(frozen=True)
class Fit:
    """Per series: the forecast for the horizon, sigma, and the chosen parameters."""

    daily: Array  # (n, horizon)
    sigma: Array  # (n,)
    params: Array  # (n, k)


def holt_winters(y: Array, starts: NDArray[np.int64], horizon: int) -> Fit:
    """Additive Holt-Winters, damped trend, weekly season, for every row of ``y`` (n, L)
    at once, each from its own start; every parameter set of ``HW_GRID`` along a second
    axis, the best (least squared one-day-ahead error) kept per row. Needs
    ``starts + 2 * SEASON < L``."""
    n, length = y.shape
    grid = HW_GRID
    a, b_, g, phi = (grid[:, i][None, :] for i in range(4))
    level = np.zeros((n, len(grid)))
    trend = np.zeros((n, len(grid)))
    season = np.zeros((n, len(grid), SEASON))
    for i, start in enumerate(starts):
        first, second = y[i, start : start + SEASON], y[i, start + SEASON : start + 2 * SEASON]
        level[i] = second.mean()
        trend[i] = (second.mean() - first.mean()) / SEASON
        for k in range(SEASON):
            slot = (start + k) % SEASON
            season[i, :, slot] = (first[k] - first.mean() + second[k] - second.mean()) / 2
    sse = np.zeros((n, len(grid)))
    count = np.zeros((n, 1))
    begin = starts + 2 * SEASON
    for t in range(int(begin.min()), length):
        active = (t >= begin)[:, None]
        slot = t % SEASON
        obs = y[:, t][:, None]
        s = season[:, :, slot]
        damped = phi * trend
        error = obs - (level + damped + s)
        new_level = a * (obs - s) + (1 - a) * (level + damped)
        new_trend = b_ * (new_level - level) + (1 - b_) * damped
        new_season = g * (obs - new_level) + (1 - g) * s
        level = np.where(active, new_level, level)
        trend = np.where(active, new_trend, trend)
        season[:, :, slot] = np.where(active, new_season, s)
        sse += np.where(active, error * error, 0.0)
        count += active
    best = sse.argmin(axis=1)
    rows = np.arange(n)
    level, trend, season = level[rows, best], trend[rows, best], season[rows, best]
    phis = grid[best, 3]
    steps = np.arange(1, horizon + 1)
    # sum_{i=1..h} phi^i: the damped trend's reach after h days
    reach = np.cumsum(phis[:, None] ** steps[None, :], axis=1)
    slots = (length + steps - 1) % SEASON
    daily = level[:, None] + reach * trend[:, None] + season[:, slots]
    sigma = np.sqrt(sse[rows, best] / np.maximum(count[:, 0], 1))
    return Fit(np.clip(daily, 0.0, None), sigma, grid[best])


def croston_sba(y: Array, starts: NDArray[np.int64], horizon: int) -> Fit:
    """Croston's method with the Syntetos-Boylan correction (rate ``(1 - a/2) z / p``) for
    every row at once; alpha from ``SBA_GRID``."""
    n, length = y.shape
    a = SBA_GRID[None, :]
    rows = np.arange(n)
    z = np.repeat(y[rows, starts][:, None], len(SBA_GRID), axis=1)  # demand size
    p = np.ones((n, len(SBA_GRID)))  # days between demands
    q = np.ones((n, 1))  # days since the last demand
    sse = np.zeros((n, len(SBA_GRID)))
    count = np.zeros((n, 1))
    for t in range(int(starts.min()) + 1, length):
        active = (t > starts)[:, None]
        obs = y[:, t][:, None]
        error = obs - (1 - a / 2) * z / p
        sse += np.where(active, error * error, 0.0)
        count += active
        hit = active & (obs > 0)
        z = np.where(hit, z + a * (obs - z), z)
        p = np.where(hit, p + a * (q - p), p)
        q = np.where(hit, 1.0, np.where(active, q + 1, q))
    best = sse.argmin(axis=1)
    rate = ((1 - SBA_GRID[best] / 2) * z[rows, best] / p[rows, best])[:, None]
    sigma = np.sqrt(sse[rows, best] / np.maximum(count[:, 0], 1))
    return Fit(np.repeat(rate, horizon, axis=1), sigma, SBA_GRID[best][:, None])


def tsb(y: Array, starts: NDArray[np.int64], horizon: int) -> Fit:
    """Teunter-Syntetos-Babai: demand size ``z`` smoothed on days with demand, its
    probability ``pr`` every day (so it fades while nothing sells); rate ``pr * z``.
    Alpha and beta from ``TSB_GRID``."""
    n, length = y.shape
    a, b_ = TSB_GRID[:, 0][None, :], TSB_GRID[:, 1][None, :]
    rows = np.arange(n)
    z = np.zeros((n, len(TSB_GRID)))
    pr = np.zeros((n, len(TSB_GRID)))
    for i, start in enumerate(starts):
        window = y[i, start:]
        z[i] = window[window > 0].mean()
        pr[i] = (window > 0).mean()
    sse = np.zeros((n, len(TSB_GRID)))
    count = np.zeros((n, 1))
    for t in range(int(starts.min()) + 1, length):
        active = (t > starts)[:, None]
        obs = y[:, t][:, None]
        error = obs - pr * z
        sse += np.where(active, error * error, 0.0)
        count += active
        hit = obs > 0
        z = np.where(active & hit, z + a * (obs - z), z)
        pr = np.where(active, pr + b_ * (hit - pr), pr)
    best = sse.argmin(axis=1)
    rate = (pr[rows, best] * z[rows, best])[:, None]
    sigma = np.sqrt(sse[rows, best] / np.maximum(count[:, 0], 1))
    return Fit(np.repeat(rate, horizon, axis=1), sigma, TSB_GRID[best])


_FITTERS = {Method.HOLT_WINTERS: holt_winters, Method.SBA: croston_sba, Method.TSB: tsb}


def forecast_many(series: Array, horizon: int) -> list[Forecast]:
    """A forecast for each row of ``series`` (n, L): units per day, oldest first, every
    row the same days (zeros before a series' first sale are not demand: it starts
    there)."""
    y = np.asarray(series, dtype=float)
    if y.ndim != 2:
        raise ValueError("series is a 2-D array: one row per series")
    n, length = y.shape
    classes = [classify(row) for row in y]
    last_7 = y[:, -7:].sum(axis=1) if length else np.zeros(n)
    last_28 = y[:, -28:].sum(axis=1) if length else np.zeros(n)
    found: dict[int, Forecast] = {}
    by_method: dict[Method, list[int]] = {}
    for i, c in enumerate(classes):
        by_method.setdefault(METHOD_OF[c.demand_class], []).append(i)
    for method, members in by_method.items():
        idx = np.array(members)
        fitter = _FITTERS.get(method)
        if fitter is not None:
            starts = np.array([classes[i].start for i in members], dtype=np.int64)
            # In blocks that keep each step's arrays in the processor's cache.
            fits = [
                fitter(y[idx[at : at + BLOCK]], starts[at : at + BLOCK], horizon)
                for at in range(0, len(members), BLOCK)
            ]
            daily = np.concatenate([f.daily for f in fits])
            sigma = np.concatenate([f.sigma for f in fits])
            params = np.concatenate([f.params for f in fits])
        else:
            daily = np.zeros((len(members), horizon))
            sigma = np.zeros(len(members))
            params = np.zeros((len(members), 0))
            if method is Method.MEAN:
                for k, i in enumerate(members):
                    history = y[i, classes[i].start :]
                    daily[k] = history.mean()
                    sigma[k] = history.std()
        for k, i in enumerate(members):
            c = classes[i]
            found[i] = Forecast(
                demand_class=c.demand_class,
                method=method,
                daily=tuple(round(float(v), 4) for v in daily[k]),
                sigma=round(float(sigma[k]), 4),
                adi=None if c.adi is None else round(c.adi, 4),
                cv2=None if c.cv2 is None else round(c.cv2, 4),
                params=tuple(float(v) for v in params[k]),
                history_days=length - c.start,
                last_7=float(last_7[i]),
                last_28=float(last_28[i]),
            )
    return [found[i] for i in range(n)]


def forecast_one(series: Array, horizon: int) -> Forecast:
    return forecast_many(np.asarray(series, dtype=float)[None, :], horizon)[0]
