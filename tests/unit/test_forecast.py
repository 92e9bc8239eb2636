"""Demand forecasts: the classes, Holt-Winters, Croston (SBA) and TSB, the replenishment
hint's reorder point and quantity, the hot products, and a small backtest that must beat
the naive forecast."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from oms.insights.backtest import backtest, synthetic
from oms.insights.forecast import (
    DemandClass,
    Method,
    classify,
    forecast_many,
    forecast_one,
)
from oms.insights.hints import Policy, days_of_cover, hint, hot, hottest, risk_order
from oms.insights.run import series_matrix

RNG = np.random.default_rng(11)


def _weekly(days: int, base: float = 20.0, slope: float = 0.0) -> np.ndarray:
    pattern = np.array([1.0, 1.0, 1.1, 1.2, 1.5, 0.6, 0.6])
    t = np.arange(days)
    return (base + slope * t) * pattern[t % 7]


def test_each_class_by_adi_and_cv2():
    smooth = RNG.poisson(30, 120).astype(float)
    erratic = np.round(RNG.gamma(0.5, 20, 120)) + 1
    intermittent = np.zeros(120)
    intermittent[::3] = 2
    lumpy = np.zeros(120)
    lumpy[::4] = [1, 30, 2, 55, 3, 1, 40, 2, 1, 70] * 3
    assert classify(smooth).demand_class is DemandClass.SMOOTH
    assert classify(erratic).demand_class is DemandClass.ERRATIC
    c = classify(intermittent)
    assert c.demand_class is DemandClass.INTERMITTENT
    assert c.adi == pytest.approx(3, abs=0.05) and c.cv2 == 0
    assert classify(lumpy).demand_class is DemandClass.LUMPY
    assert classify(np.zeros(60)).demand_class is DemandClass.NONE
    # Sold for ten days only (the days before its first sale do not count).
    young = np.concatenate([np.zeros(100), np.full(10, 5.0)])
    c = classify(young)
    assert (c.demand_class, c.start, c.adi) == (DemandClass.NEW, 100, 1.0)


def test_holt_winters_follows_the_weekly_rhythm_and_the_trend():
    days, horizon = 140, 14
    truth = _weekly(days + horizon, base=20, slope=0.1)
    f = forecast_one(truth[:days], horizon)
    assert (f.demand_class, f.method) == (DemandClass.SMOOTH, Method.HOLT_WINTERS)
    forecast = np.array(f.daily)
    assert np.abs(forecast - truth[days:]).mean() < 1.5
    # Fridays (slot 4) are the peak, and next week sells more than this one.
    peak = int(np.argmax(forecast[:7]))
    assert (days + peak) % 7 == 4
    assert forecast[7:].sum() > forecast[:7].sum()
    assert f.sigma < 1 and len(f.params) == 4


def test_holt_winters_through_noise_beats_a_flat_mean():
    days, horizon = 168, 28
    truth = _weekly(days + horizon, base=40)
    noisy = RNG.poisson(truth).astype(float)
    f = forecast_one(noisy[:days], horizon)
    flat = np.full(horizon, noisy[:days].mean())
    error = np.abs(np.array(f.daily) - truth[days:]).mean()
    assert error < 0.6 * np.abs(flat - truth[days:]).mean()


def test_croston_sba_gives_the_rate_with_its_bias_correction():
    y = np.zeros(120)
    y[::4] = 4.0  # 4 units every 4th day: 1 a day
    f = forecast_one(y, 7)
    assert (f.demand_class, f.method) == (DemandClass.INTERMITTENT, Method.SBA)
    alpha = f.params[0]
    assert f.daily == pytest.approx([(1 - alpha / 2) * 1.0] * 7, rel=0.02)
    assert 0.75 < f.daily[0] < 1.0


def test_tsb_lets_a_lumpy_sku_that_stopped_selling_fade():
    y = np.zeros(150)
    y[:100:4] = [1, 30, 2, 55, 3, 1, 40, 2, 1, 70, 5, 1, 20, 2, 1, 30, 3, 1, 25, 2, 1, 45, 1, 2, 9]
    stopped = forecast_one(y, 7)
    still = forecast_one(np.concatenate([y[:100], y[:50]]), 7)
    assert (stopped.demand_class, stopped.method) == (DemandClass.LUMPY, Method.TSB)
    assert still.method is Method.TSB
    assert stopped.daily[0] < 0.5 * still.daily[0]


def test_many_at_once_are_each_as_alone_and_keep_their_order():
    rows = np.array(
        [
            _weekly(120),
            np.where(np.arange(120) % 3 == 0, 2.0, 0.0),
            np.zeros(120),
            np.concatenate([np.zeros(110), np.full(10, 3.0)]),
            _weekly(120, base=5, slope=0.05),
        ]
    )
    together = forecast_many(rows, 14)
    for row, f in zip(rows, together, strict=True):
        assert forecast_one(row, 14) == f
    assert [f.method for f in together] == [
        Method.HOLT_WINTERS,
        Method.SBA,
        Method.ZERO,
        Method.MEAN,
        Method.HOLT_WINTERS,
    ]
    assert together[2].daily == (0.0,) * 14 and together[3].daily[0] == 3.0
    assert together[0].last_7 == pytest.approx(rows[0, -7:].sum())


def test_the_history_matrix_sums_a_key_and_day_and_drops_days_outside():
    from datetime import date

    first = date(2026, 1, 1)
    keys, m = series_matrix(
        [
            (("", "A"), date(2026, 1, 2), 3.0),
            (("w1", "A"), date(2026, 1, 2), 1.0),
            (("", "A"), date(2026, 1, 2), 2.0),
            (("", "B"), date(2025, 12, 31), 9.0),
            (("", "B"), date(2026, 1, 3), 4.0),
        ],
        first,
        3,
    )
    assert keys == [("", "A"), ("w1", "A"), ("", "B")]
    assert m.tolist() == [[0, 5, 0], [0, 1, 0], [0, 0, 4]]


def test_the_reorder_point_safety_stock_and_quantity():
    policy = Policy(lead_time_days=4, review_days=3, service_level=0.95)
    z = NormalDist().inv_cdf(0.95)
    h = hint("w1", "A", on_hand=40, reserved=10, daily=[10.0] * 28, sigma=2.0, policy=policy)
    assert h.available == 30
    assert h.safety_stock == pytest.approx(z * 2 * 2, abs=0.01)
    assert h.reorder_point == pytest.approx(40 + z * 4, abs=0.01)
    assert h.order_up_to == pytest.approx(70 + z * 2 * math.sqrt(7), abs=0.01)
    assert h.order_quantity == math.ceil(70 + z * 2 * math.sqrt(7) - 30)
    assert h.days_of_cover == 3.0 and h.status == "stockout_risk"
    # Enough for the lead time but under the reorder point: reorder.
    low = hint("w1", "A", 45, 0, [10.0] * 28, 2.0, policy)
    assert (low.status, low.order_quantity) == ("reorder", math.ceil(low.order_up_to - 45))
    plenty = hint("w1", "A", 500, 0, [10.0] * 28, 2.0, policy)
    assert (plenty.status, plenty.order_quantity) == ("ok", 0)
    # No demand: never a risk, however little is left.
    idle = hint("w1", "A", 0, 0, [0.0] * 28, 0.0, policy)
    assert (idle.status, idle.order_quantity, idle.days_of_cover) == ("ok", 0, 0.0)
    assert [h.status for h in sorted([plenty, low, h], key=risk_order)] == [
        "stockout_risk",
        "reorder",
        "ok",
    ]


def test_days_of_cover_walks_the_forecast_then_its_last_week():
    assert days_of_cover(15, [10, 10, 10]) == 1.5
    assert days_of_cover(50, [10] * 3) == 5.0  # 30 in the horizon, then 10 a day
    assert days_of_cover(5, [0.0] * 7) is None
    assert days_of_cover(-3, [1.0]) == 0.0
    # Past the horizon the lead time's demand is the last week's rate.
    h = hint("w", "s", 1000, 0, [1.0] * 7, 0.0, Policy(14, 0, 0.9))
    assert h.reorder_point == pytest.approx(14.0)


def test_hot_products_rise_fastest_first_above_a_floor():
    rising = hot("UP", 30, 60, [6.0] * 7, "smooth", "holt_winters")  # 2.14/day -> 6/day
    steady = hot("FLAT", 14, 56, [2.0] * 7, "smooth", "holt_winters")
    tiny = hot("TINY", 0, 1, [1.0] * 7, "new", "mean")  # grows most, but 7 units a week
    falling = hot("DOWN", 5, 100, [1.0] * 7, "smooth", "holt_winters")
    assert rising.growth == pytest.approx(6 / (60 / 28) - 1, abs=1e-3)
    assert rising.trend == pytest.approx(30 / 7 - 30 / 21, abs=1e-3)
    assert falling.trend < 0
    assert [h.sku for h in hottest([steady, tiny, falling, rising], 10, 5)] == ["UP"]
    assert [h.sku for h in hottest([steady, tiny, falling, rising], 5, 5)] == ["TINY", "UP"]


def test_a_small_backtest_beats_the_naive_forecast_overall():
    history = synthetic(skus=120, days=182, seed=3)
    assert set(history.kinds) == {"trend_weekly", "promotions", "erratic", "intermittent", "lumpy"}
    report = backtest(history.units, holdout=28)
    assert report.overall.skus == 120
    assert report.overall.mase_naive is not None and report.overall.mase_naive < 1
    assert report.overall.mase_seasonal is not None and report.overall.mase_seasonal < 1
    assert report.classes["smooth"].mase_naive < 0.8
    # The same seed makes the same history.
    assert np.array_equal(synthetic(120, 182, 3).units, history.units)
