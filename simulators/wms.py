"""WMS and carrier simulator.

The WMS accepts a dispatch and remembers it in its own table. A courier loop then plays
the parcel's life: after ``sim_ship_delay_s`` the warehouse posts ``shipped`` with a
tracking number to the OMS, then the carrier posts ``in_transit``, ``out_for_delivery`` and
``delivered`` every ``sim_carrier_step_s``. Callbacks are signed like a real partner's and
retried with backoff until the OMS accepts them; progress is stored, so a restart resumes.

Injected faults: ``POST /wms/dispatches`` and the ``shipped`` callback obey the "wms" faults,
the later callbacks the "carrier" faults. A refused callback is simply not sent this time,
so the usual backoff retries it; a duplicated one is posted twice, byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms.logging import get_logger
from oms.settings import Settings
from oms.webhooks import signed_headers
from simulators import wms_returns, wms_stock
from simulators.faults import FaultBook

router = APIRouter(prefix="/wms", tags=["sandbox WMS"])
log = get_logger("sim.wms")

CARRIER = "SIMPOST"
_STAGES = {0: "shipped", 1: "in_transit", 2: "out_for_delivery", 3: "delivered"}
DONE = 4


@router.post("/dispatches", status_code=202)
async def create_dispatch(
    request: Request, authorization: str | None = Header(None)
) -> JSONResponse:
    faults: FaultBook = request.app.state.faults
    if (refusal := faults.refusal("wms")) is not None:
        await asyncio.sleep(faults.get("wms").latency_s)
        return JSONResponse({"detail": refusal}, status_code=503)
    response = await _dispatch(request, authorization)
    # After the commit: a timed-out caller must not know whether the dispatch was taken.
    await asyncio.sleep(faults.answer_delay("wms"))
    return response


async def _dispatch(request: Request, authorization: str | None) -> JSONResponse:
    settings: Settings = request.app.state.settings
    if authorization != f"Bearer {settings.wms_api_key}":
        return JSONResponse({"detail": "bad WMS API key"}, status_code=401)
    body = await request.json()
    warehouse = str(body.get("warehouse_id") or "")
    if request.app.state.refusals.refuses(warehouse):
        # A business refusal: 422 is WmsRejected (not retried), unlike the faults' 503s.
        detail = f"warehouse {warehouse} refuses dispatches"
        return JSONResponse({"detail": detail}, status_code=422)
    shipment_id = str(body.get("shipment_id") or "")
    if not shipment_id or not body.get("lines"):
        return JSONResponse({"detail": "shipment_id and lines are required"}, status_code=422)
    tracking = "SIM" + hashlib.sha256(shipment_id.encode()).hexdigest()[:12].upper()
    due = datetime.now(UTC) + timedelta(seconds=settings.sim_ship_delay_s)
    async with request.app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO sim_wms_dispatches (shipment_id, order_id, warehouse_id, "
                "tracking_number, payload, next_at) "
                "VALUES (:s, :o, :w, :t, CAST(:p AS jsonb), :due) "
                "ON CONFLICT (shipment_id) DO NOTHING"
            ),
            {
                "s": shipment_id,
                "o": body.get("order_id", ""),
                "w": body.get("warehouse_id", ""),
                "t": tracking,
                "p": json.dumps(body),
                "due": due,
            },
        )
    return JSONResponse({"reference": f"wms-{shipment_id}", "status": "accepted"}, status_code=202)


def _callback(settings: Settings, row: Any) -> tuple[str, str, dict[str, Any]]:
    """The URL, the signing secret and the body of the next event for a dispatch."""
    status = _STAGES[row.stage]
    occurred = datetime.now(UTC).isoformat()
    event_id = f"{row.shipment_id}-{status}"
    base = settings.api_base_url
    if row.stage == 0:
        body = {
            "event_id": event_id,
            "type": "shipped",
            "shipment_id": row.shipment_id,
            "tracking_number": row.tracking_number,
            "carrier": CARRIER,
            "occurred_at": occurred,
        }
        return f"{base}/v1/warehouse-events", settings.wms_webhook_secret, body
    body = {
        "event_id": event_id,
        "tracking_number": row.tracking_number,
        "status": status,
        # A parcel followed by tracking number (simulators/carrier.py) keeps its carrier.
        "carrier": getattr(row, "carrier", None) or CARRIER,
        "occurred_at": occurred,
    }
    return f"{base}/v1/carrier-events", settings.carrier_webhook_secret, body


class Courier:
    """Delivers the due callbacks; one loop per simulator process."""

    def __init__(
        self, engine: AsyncEngine, settings: Settings, faults: FaultBook | None = None
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._faults = faults or FaultBook()
        self._http = httpx.AsyncClient(timeout=5.0)

    async def run(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.tick() > 0
            except Exception as exc:  # keep the courier alive through database restarts
                log.warning("courier_error", error=str(exc)[:200])
            if not busy:  # more may be due at once: go on without waiting
                await asyncio.sleep(self._settings.sim_poll_interval_s)

    async def tick(self, batch: int = 20, lanes: int = 8) -> int:
        """Deliver up to ``batch`` due callbacks, ``lanes`` at a time (as a partner's many
        senders would), each in a transaction of its own."""
        per_lane, extra = divmod(batch, lanes)
        counts = await asyncio.gather(
            *(self._lane(per_lane + (1 if n < extra else 0)) for n in range(lanes))
        )
        # Returns announced to the warehouses: each line's counts, as they come due.
        returned = await wms_returns.deliver_due(
            self._engine, self._settings, self._faults, self._http
        )
        return sum(counts) + returned

    async def _lane(self, batch: int) -> int:
        done = 0
        for _ in range(batch):
            async with self._engine.begin() as conn:
                row = (
                    await conn.execute(
                        text(
                            "SELECT shipment_id, order_id, tracking_number, stage, attempts, "
                            "payload->>'carrier' AS carrier FROM sim_wms_dispatches "
                            "WHERE stage < :done AND next_at <= now() "
                            "ORDER BY next_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                        ),
                        {"done": DONE},
                    )
                ).first()
                if row is None:
                    return done
                delivered = await self._post(row)
                if delivered and row.stage == 0:  # shipped: the goods left the warehouse
                    await wms_stock.ship(conn, row.shipment_id)
                await conn.execute(
                    text(
                        "UPDATE sim_wms_dispatches SET stage = stage + :adv, attempts = :att, "
                        "next_at = :next WHERE shipment_id = :s"
                    ),
                    self._next(row, delivered),
                )
            done += 1
        return done

    def _next(self, row: Any, delivered: bool) -> dict[str, Any]:
        if delivered:
            delay = self._settings.sim_carrier_step_s
            return {
                "adv": 1,
                "att": 0,
                "s": row.shipment_id,
                "next": datetime.now(UTC) + timedelta(seconds=delay),
            }
        backoff = min(30.0, 0.5 * 2**row.attempts)
        return {
            "adv": 0,
            "att": row.attempts + 1,
            "s": row.shipment_id,
            "next": datetime.now(UTC) + timedelta(seconds=backoff),
        }

    async def _post(self, row: Any) -> bool:
        """Post the row's next callback under its partner's faults; True once delivered."""
        partner = "wms" if row.stage == 0 else "carrier"
        if (refusal := self._faults.refusal(partner)) is not None:
            log.info("callback_withheld", order_id=row.order_id, partner=partner, reason=refusal)
            return False
        await asyncio.sleep(self._faults.get(partner).latency_s)
        url, secret, body = _callback(self._settings, row)
        raw = json.dumps(body).encode()
        headers = signed_headers(secret, raw)
        copies = 2 if self._faults.should_duplicate(partner) else 1
        # Delivered when the OMS accepted either copy; it must dedupe the other by event id.
        results = [await self._send(row, url, raw, headers, body) for _ in range(copies)]
        return any(results)

    async def _send(
        self, row: Any, url: str, raw: bytes, headers: dict[str, str], body: dict[str, Any]
    ) -> bool:
        try:
            response = await self._http.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            log.info("callback_failed", order_id=row.order_id, url=url, error=type(exc).__name__)
            return False
        log.info(
            "callback",
            order_id=row.order_id,
            shipment_id=row.shipment_id,
            kind=body.get("type") or body.get("status"),
            status=response.status_code,
        )
        return response.status_code < 300

    async def aclose(self) -> None:
        await self._http.aclose()
