"""``shipments``: one row per parcel, made by the dispatch step (refused ones included)
and followed from the order's records and the tracking steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms.db.engine import one_statement
from oms.store.sql_enums import SHIPMENT_PENDING, SHIPMENT_SHIPPED, SHIPMENT_STATUS_RANK

_CREATE = text(
    f"""
    INSERT INTO shipments (id, order_id, warehouse_id, status, created_at, updated_at)
    VALUES (:id, :order_id, :w, {SHIPMENT_PENDING}, now(), now())
    ON CONFLICT (id) DO NOTHING
    """
)
# A parcel already on its way when the OMS took the order over (an imported order).
_CREATE_SHIPPED = text(
    f"""
    INSERT INTO shipments (id, order_id, warehouse_id, status, tracking_number, carrier,
                           created_at, updated_at)
    VALUES (:id, :order_id, :w, {SHIPMENT_SHIPPED}, :tracking, :carrier, now(), now())
    ON CONFLICT (id) DO NOTHING
    """
)
_RECORD = text(
    """
    UPDATE shipments SET status = :status, updated_at = now(),
        tracking_number = COALESCE(:tracking, tracking_number),
        carrier = COALESCE(:carrier, carrier)
    WHERE id = :id
    """
)


def forward_only(row: str, status: str) -> str:
    """The condition under which shipment ``row`` may take ``status``: a shipment row follows
    the order's view only forward (an older record arriving late leaves it be)."""
    return (
        f"{row}.status IS DISTINCT FROM {status}\n"
        f"      AND array_position({SHIPMENT_STATUS_RANK}, {status})\n"
        f"          > coalesce(array_position({SHIPMENT_STATUS_RANK}, {row}.status), 0)"
    )


# The statuses of a batch's shipments, as one data-modifying CTE of the order's records
# (``oms.store.orders``); its unnest takes ship_ids, ship_statuses, ship_tracking and
# ship_carriers.
FOLLOW_CTE = f"""
        UPDATE shipments AS s SET status = f.status, updated_at = now(),
            tracking_number = COALESCE(f.tracking, s.tracking_number),
            carrier = COALESCE(f.carrier, s.carrier)
        FROM unnest(CAST(:ship_ids AS varchar[]), CAST(:ship_statuses AS varchar[]),
                    CAST(:ship_tracking AS varchar[]), CAST(:ship_carriers AS varchar[]))
             AS f(id, status, tracking, carrier)
        WHERE s.id = f.id AND {forward_only("s", "f.status")}
        RETURNING 1"""
_FOLLOW = text(
    f"""
    UPDATE shipments AS s SET status = :status, updated_at = now(),
        tracking_number = COALESCE(:tracking, tracking_number),
        carrier = COALESCE(:carrier, carrier)
    WHERE id = :id AND {forward_only("s", ":status")}
    """
)
_ORDER_OF = text("SELECT order_id FROM shipments WHERE id = :id")
_OF_ORDER = text(
    "SELECT id, warehouse_id, status, tracking_number, carrier, created_at, updated_at "
    "FROM shipments WHERE order_id = :id ORDER BY created_at, id"
)
# A carrier scan can come before the workflow has recorded the tracking number that the
# warehouse reported: the accepted warehouse event already links the two.
_BY_TRACKING = text(
    """
    SELECT id, order_id FROM shipments WHERE tracking_number = :t
    UNION ALL
    SELECT e.shipment_id, s.order_id FROM partner_events e JOIN shipments s
      ON s.id = e.shipment_id
    WHERE e.partner = 'warehouse' AND e.tracking_number = :t AND e.accepted
    LIMIT 1
    """
)


async def create(engine: AsyncEngine, shipment_id: str, order_id: str, warehouse_id: str) -> None:
    """The shipment's row, ``pending``, unless it exists."""
    async with engine.begin() as conn:
        await conn.execute(_CREATE, {"id": shipment_id, "order_id": order_id, "w": warehouse_id})


async def create_shipped(
    engine: AsyncEngine,
    shipment_id: str,
    order_id: str,
    warehouse_id: str,
    tracking_number: str,
    carrier: str | None,
) -> None:
    """The row of a parcel that left before the OMS took its order over: ``shipped``,
    with its tracking number, unless it exists."""
    params = {
        "id": shipment_id,
        "order_id": order_id,
        "w": warehouse_id,
        "tracking": tracking_number,
        "carrier": carrier,
    }
    async with engine.begin() as conn:
        await conn.execute(_CREATE_SHIPPED, params)


async def record(
    engine: AsyncEngine,
    shipment_id: str,
    status: str,
    tracking_number: str | None,
    carrier: str | None,
) -> None:
    """Set the shipment's status (and tracking number and carrier, when given)."""
    params = {"id": shipment_id, "status": status, "tracking": tracking_number, "carrier": carrier}
    async with engine.begin() as conn:
        await conn.execute(_RECORD, params)


async def follow(conn: AsyncConnection, shipments: Sequence[Any]) -> None:
    """Move each shipment row forward to the status in the order's view (objects with id,
    status, tracking_number, carrier), in the caller's transaction."""
    if shipments:
        await conn.execute(
            _FOLLOW,
            [
                {
                    "id": s.id,
                    "status": s.status,
                    "tracking": s.tracking_number,
                    "carrier": s.carrier,
                }
                for s in shipments
            ],
        )


async def of_order(conn: AsyncConnection, order_id: str) -> list[Any]:
    """The order's shipments, refused ones included, oldest first (id, warehouse_id,
    status, tracking_number, carrier, created_at, updated_at)."""
    return list((await conn.execute(_OF_ORDER, {"id": order_id})).all())


async def order_of(engine: AsyncEngine, shipment_id: str) -> str | None:
    """The order a shipment belongs to (one autocommit statement)."""
    async with one_statement(engine) as conn:
        row = (await conn.execute(_ORDER_OF, {"id": shipment_id})).first()
    return row.order_id if row is not None else None


async def by_tracking(engine: AsyncEngine, tracking_number: str) -> Any:
    """The shipment (id, order_id) with the tracking number, or None."""
    async with one_statement(engine) as conn:
        return (await conn.execute(_BY_TRACKING, {"t": tracking_number})).first()
