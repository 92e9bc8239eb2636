"""Running two systems side by side (双轨运行): the current system's decisions loaded from
its export, and the report that sets them against what the OMS decided for the channel's
shadow orders. Shared by the API (``/v1/shadow/...``) and the command line (``oms shadow``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms import channel_registry
from oms.channel_registry import ChannelNotFound
from oms.channels.shadow import Decision, read_current
from oms.channels.shadow_report import DECISIONS, DEFAULT_TOLERANCE_H, OmsOrder, Report, build
from oms.domain.shortage import FAIL, for_channel, parse_shortage
from oms.settings import Settings
from oms.store import orders, shadow_current

__all__ = ["BadCursor", "ChannelNotFound", "load_export", "make_report", "report_answer"]


class BadCursor(ValueError):
    """A ``cursor`` that is not one this report gave."""


async def load_export(engine: AsyncEngine, channel: str, text: str, by: str, file: str) -> int:
    """Read the export (``oms.channels.shadow.read_current``: BadExport with every bad
    line, and then nothing is stored) and store each order's decisions, replacing what an
    earlier load said of the same orders. ChannelNotFound for a channel not configured.
    The number of orders stored."""
    if await channel_registry.channel_record(engine, channel) is None:
        raise ChannelNotFound(channel)
    current = read_current(text)
    rows = [_row(d) for d in current.values()]
    return await shadow_current.load(engine, channel, rows, by, file)


def _row(d: Decision) -> dict[str, Any]:
    return {
        "external_id": d.external_id,
        "held": d.held,
        "cancelled": d.cancelled,
        "warehouses": sorted(d.warehouses) if d.warehouses is not None else None,
        "split": d.split,
        "shipped_at": d.shipped_at.isoformat() if d.shipped_at else None,
    }


async def make_report(
    engine: AsyncEngine,
    settings: Settings,
    channel: str,
    since: datetime | None = None,
    tolerance_h: float = DEFAULT_TOLERANCE_H,
) -> Report:
    """The side-by-side report for the channel (``oms.channels.shadow_report``)."""
    cfg = await channel_registry.load_channel(engine, channel)
    if cfg is None:
        raise ChannelNotFound(channel)
    policy = cfg.shortage or for_channel(parse_shortage(settings.shortage), channel)
    current = {
        r.external_id: Decision(
            r.external_id,
            r.held,
            frozenset(r.warehouses) if r.warehouses is not None else None,
            r.cancelled,
            r.shipped_at,
            r.split,
        )
        for r in await shadow_current.rows(engine, channel)
    }
    ours = [_oms_order(r) for r in await orders.side_by_side(engine, channel)]
    return build(
        ours, current, since=since, fail_on_shortage=policy == FAIL, tolerance_h=tolerance_h
    )


def _oms_order(r: Any) -> OmsOrder:
    first = r.first or {}
    backorder = first.get("backorder")
    delay = first.get("release_delay_s")
    return OmsOrder(
        r.external_id,
        r.id,
        r.mode,
        r.status,
        r.created_at,
        r.shadow if isinstance(r.shadow, dict) else None,
        r.decided_at,
        backorder if isinstance(backorder, bool) else None,
        float(delay) if isinstance(delay, int | float) else None,
    )


def report_answer(
    report: Report, channel: str, since: datetime | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The report as the API answers it; ``differences`` paged by ``limit`` from the
    ``cursor`` of the previous page."""
    after = _decode(cursor) if cursor else None
    rows = [d for d in report.differences if after is None or (d.external_id, d.decision) > after]
    page = rows[:limit]
    next_cursor = _encode(page[-1].external_id, page[-1].decision) if len(rows) > limit else None
    return {
        "channel": channel,
        "since": since.isoformat() if since else None,
        "orders": {
            "oms": report.oms_orders,
            "current": report.current_orders,
            "both": report.both,
            "only_in_oms": len(report.only_oms),
            "only_in_current": len(report.only_current),
            "live_in_oms": len(report.live_in_oms),
        },
        "decisions": report.summary(),
        "only_in_oms": report.only_oms[:limit],
        "only_in_current": report.only_current[:limit],
        "differences_total": len(report.differences),
        "differences": [d.as_dict() for d in page],
        "next_cursor": next_cursor,
    }


def _encode(external_id: str, decision: str) -> str:
    return f"{decision}~{external_id}"


def _decode(cursor: str) -> tuple[str, str]:
    """Any ``<decision>~<external id>`` is a position in the differences' order (external
    id, decision): a cursor names where the previous page stopped, not a row that must
    still be there."""
    decision, sep, external_id = cursor.partition("~")
    if not sep or decision not in DECISIONS:
        raise BadCursor("not a cursor this report gave")
    return external_id, decision
