"""Alerts: open and acknowledged, newest first; acknowledge one with a note, in place."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console.web import ActorDep, UserDep, flash, render
from oms.alerts import acknowledge, list_alerts
from oms.store import users as user_store

router = APIRouter(prefix="/console/alerts", include_in_schema=False)
PAGE = 50


@router.get("")
async def alerts_page(
    request: Request,
    user: UserDep,
    status: Annotated[str, Query(pattern="^(open|acknowledged|all)$")] = "open",
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    engine = request.app.state.engine
    rows = await list_alerts(engine, None if status == "all" else status, PAGE + 1, before)
    page, more = rows[:PAGE], len(rows) > PAGE
    return render(
        request,
        user,
        "alerts.html",
        alerts=page,
        status=status,
        next_before=page[-1]["id"] if more else None,
    )


@router.post("/{alert_id}/ack")
async def acknowledge_alert(
    request: Request, user: ActorDep, alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    engine = request.app.state.engine
    form = await request.form()
    note = str(form.get("note") or "").strip()[:2000]
    if not note:
        return flash(request, "A note is required.", 422)
    alert = await acknowledge(engine, alert_id, user.name, note)
    if alert is None:
        return flash(request, "Not found", 404)
    await user_store.audit(
        engine,
        user.name,
        "alert_ack",
        f"alert:{alert_id}",
        "ok",
        note,
        {"order_id": alert["order_id"], "kind": alert["kind"]},
    )
    if not request.headers.get("hx-request"):
        return RedirectResponse("/console/alerts", status_code=303)
    return render(request, user, "_alert_row.html", alert=alert)
