"""The console's SVG charts: a point per day where there is a figure, a gap where there is
none, the target drawn, and nothing from the data written unescaped."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

from api.console.charts import HEIGHT, PAD_BOTTOM, PAD_TOP, Point, chart

SVG = "{http://www.w3.org/2000/svg}"


def _days(values: list[float | None]) -> list[Point]:
    start = date(2026, 11, 1)
    return [Point(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_a_line_has_a_point_per_day_with_a_figure_and_breaks_at_gaps() -> None:
    svg = ElementTree.fromstring(str(chart(_days([1.0, 2.0, None, 4.0, 5.0]), unit="%")))
    circles = svg.findall(f"{SVG}circle")
    assert len(circles) == 4
    assert circles[0].find(f"{SVG}title").text == "2026-11-01: 1.0 %"
    lines = svg.findall(f"{SVG}polyline")
    assert [len(p.get("points").split()) for p in lines] == [2, 2]


def test_higher_values_are_drawn_higher_and_zero_sits_on_the_axis() -> None:
    svg = ElementTree.fromstring(str(chart(_days([0.0, 10.0, 5.0]))))
    ys = [float(c.get("cy")) for c in svg.findall(f"{SVG}circle")]
    assert ys[1] < ys[2] < ys[0]
    assert ys[0] == HEIGHT - PAD_BOTTOM
    assert ys[1] >= PAD_TOP


def test_the_target_is_a_dashed_line_inside_the_chart_even_above_every_value() -> None:
    svg = ElementTree.fromstring(str(chart(_days([90.0, 95.0]), unit="%", target=99.5)))
    target = svg.find(f"{SVG}line[@class='target']")
    assert target is not None and target.get("stroke-dasharray")
    assert PAD_TOP <= float(target.get("y1")) < HEIGHT - PAD_BOTTOM
    ys = [float(c.get("cy")) for c in svg.findall(f"{SVG}circle")]
    assert float(target.get("y1")) < min(ys)


def test_counts_are_bars_and_an_empty_range_still_draws() -> None:
    svg = ElementTree.fromstring(str(chart(_days([3.0, None, 7.0]), bars=True)))
    assert len(svg.findall(f"{SVG}rect")) == 2
    empty = ElementTree.fromstring(str(chart([], label="nothing")))
    assert empty.get("aria-label") == "nothing"


def test_labels_are_escaped() -> None:
    text = str(chart(_days([1.0]), label='<script>alert("x")</script>'))
    assert "<script>" not in text
    assert re.search(r'aria-label="&lt;script&gt;', text)
