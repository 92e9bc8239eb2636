"""The shadow comparison of routing strategies over live orders: at its first allocation
each order stores what every strategy (oms.domain.routing.COMPARED) would have chosen from
the same stock, with the expected days and cost (``routing_decisions``); this module sums
them per strategy next to the chosen allocations. ``GET /v1/insights/routing`` and
``oms routing compare`` answer with :func:`routing_report`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms.domain.routing import COMPARED
from oms.store import routing as routing_store


def _num(value: Any, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _order(row: Any) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "channel": row.channel,
        "strategy": row.strategy,
        "country": row.country,
        "area": row.area,
        "shipments": row.shipments,
        "expected_days": _num(row.expected_days, 3),
        "expected_cost": _num(row.expected_cost, 2),
        "allocated_at": row.created_at.isoformat(),
        "options": {
            name: {
                "warehouses": option["warehouses"],
                "shipments": option["shipments"],
                "expected_days": option["days"],
                "expected_cost": option["cost"],
            }
            for name, option in sorted(row.options.items())
        },
    }


async def routing_report(
    engine: AsyncEngine,
    since: datetime,
    channel: str | None = None,
    orders: int = 0,
) -> dict[str, Any]:
    """Per strategy over the orders allocated since ``since`` (of ``channel``): orders,
    mean expected days and cost, splits (orders of more than one parcel), how often it
    was the one that chose and how often it would have chosen the same warehouses; the
    chosen allocations' own figures; with ``orders``, that many newest orders each with
    every strategy's choice."""
    chosen, per = await routing_store.summary(engine, since, channel)
    by_name = {row.strategy: row for row in per}
    strategies = []
    for name in [*COMPARED, *sorted(set(by_name) - set(COMPARED))]:
        row = by_name.get(name)
        strategies.append(
            {
                "strategy": name,
                "orders": int(row.orders) if row else 0,
                "mean_expected_days": _num(row.mean_days, 3) if row else None,
                "mean_expected_cost": _num(row.mean_cost, 2) if row else None,
                "splits": int(row.splits) if row else 0,
                "chosen": int(row.chosen) if row else 0,
                "same_as_chosen": int(row.same_as_chosen) if row else 0,
            }
        )
    answer: dict[str, Any] = {
        "since": since.isoformat(),
        "channel": channel,
        "orders": int(chosen.orders),
        "chosen": {
            "mean_expected_days": _num(chosen.mean_days, 3),
            "mean_expected_cost": _num(chosen.mean_cost, 2),
            "splits": int(chosen.splits),
        },
        "strategies": strategies,
    }
    if orders > 0:
        rows = await routing_store.decisions(engine, since, channel, orders)
        answer["items"] = [_order(r) for r in rows]
    return answer


async def order_comparison(engine: AsyncEngine, order_id: str) -> dict[str, Any] | None:
    row = await routing_store.decision(engine, order_id)
    return None if row is None else _order(row)


def render(report: dict[str, Any]) -> str:
    """The report as the terminal shows it."""
    chosen = report["chosen"]
    scope = f" of channel {report['channel']}" if report["channel"] else ""
    lines = [
        f"{report['orders']} orders{scope} allocated since {report['since']}; as chosen: "
        f"mean {_text(chosen['mean_expected_days'])} days, mean cost "
        f"{_text(chosen['mean_expected_cost'])}, {chosen['splits']} split",
        f"  {'strategy':<17} {'orders':>7} {'mean days':>10} {'mean cost':>10} "
        f"{'splits':>7} {'chosen':>7} {'same':>7}",
    ]
    for s in report["strategies"]:
        lines.append(
            f"  {s['strategy']:<17} {s['orders']:>7} {_text(s['mean_expected_days']):>10} "
            f"{_text(s['mean_expected_cost']):>10} {s['splits']:>7} {s['chosen']:>7} "
            f"{s['same_as_chosen']:>7}"
        )
    for item in report.get("items", []):
        lines.append(
            f"  {item['order_id']} {item['channel']} {item['country']}-{item['area'] or '*'} "
            f"chose {item['strategy']}: {item['expected_days']} days, {item['expected_cost']}"
        )
        for name, o in item["options"].items():
            lines.append(
                f"      {name:<17} {'+'.join(o['warehouses']):<30} {o['expected_days']:>7} days "
                f"{o['expected_cost']:>8}"
            )
    return "\n".join(lines)


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
