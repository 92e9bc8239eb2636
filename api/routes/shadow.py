"""Side by side (双轨运行): the current system's decisions for a shadow channel's orders,
loaded from its CSV export (``POST /v1/shadow/decisions``), and the report that sets them
against the OMS's (``GET /v1/shadow/report``): agreement per decision and every order where
the two differ, both decisions side by side (docs/side-by-side.md). Operators and
admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import EngineDep, JsonRoute, Operator, SettingsDep
from api.errors import Problem
from api.routes.channel_shadow import Since, _moment
from api.schemas import problems
from api.schemas.channels import NAME_PATTERN
from oms.channel_registry import ChannelNotFound
from oms.channels.shadow import BadExport
from oms.channels.shadow_report import DEFAULT_TOLERANCE_H
from oms.shadow_runs import BadCursor, load_export, make_report, report_answer

router = APIRouter(prefix="/v1/shadow", tags=["channels"], route_class=JsonRoute)
CURSOR_PATTERN = r"^(held|cancelled|warehouses|split|ship_time)~.+$"
# An export of a channel's orders is a file: allowed the console's import size.
DECISIONS_PATH = "/v1/shadow/decisions"
ChannelName = Annotated[str, Query(pattern=NAME_PATTERN, description="the shadow channel, by name")]
_CSV = (
    "CSV, UTF-8, a header line: `external_id` and any of `held`, `cancelled`, `split` "
    "(yes/no), `warehouses` (ids separated by `;`), `shipped_at` (ISO 8601 with its "
    "offset). Rows of one order are merged; a column left out is not compared."
)


@router.post(
    "/decisions",
    summary="Load the current system's decisions for a shadow channel's orders",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": _CSV,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses=problems(
        401,
        403,
        404,
        413,
        422,
        _404="No such channel (``not-found``).",
        _422="A line the export cannot be read at (``validation-error``, ``errors`` names "
        "each line); nothing is stored.",
    ),
)
async def load_decisions(
    channel: ChannelName,
    request: Request,
    caller: Operator,
    engine: EngineDep,
) -> dict[str, Any]:
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(422, "the export is not UTF-8 text", kind="validation-error") from exc
    try:
        stored = await load_export(engine, channel, text, caller.name, "upload")
    except ChannelNotFound as exc:
        raise Problem(404, f"no channel {channel}", kind="not-found") from exc
    except BadExport as exc:
        raise Problem(
            422,
            f"the export cannot be read, nothing was stored: {exc}",
            kind="validation-error",
            errors=[{"field": f"line {n}", "message": m} for n, m in exc.errors],
        ) from exc
    return {"channel": channel, "orders_loaded": stored}


@router.get(
    "/report",
    summary="The OMS's shadow decisions against the current system's, per decision",
    responses=problems(401, 403, 404, 422, _404="No such channel (``not-found``)."),
)
async def shadow_report(
    channel: ChannelName,
    caller: Operator,
    engine: EngineDep,
    settings: SettingsDep,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="differences per page")] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=2000,
            pattern=CURSOR_PATTERN,
            description="``next_cursor`` of the previous page",
        ),
    ] = None,
    tolerance_h: Annotated[
        float,
        Query(
            ge=0,
            le=8760,
            description="ship times this many hours apart or closer agree",
        ),
    ] = DEFAULT_TOLERANCE_H,
) -> dict[str, Any]:
    moment = _moment(since) if since is not None else None
    try:
        report = await make_report(engine, settings, channel, moment, tolerance_h)
    except ChannelNotFound as exc:
        raise Problem(404, f"no channel {channel}", kind="not-found") from exc
    try:
        return report_answer(report, channel, moment, limit, cursor)
    except BadCursor as exc:
        raise Problem(
            422,
            str(exc),
            kind="validation-error",
            errors=[{"field": "cursor", "message": str(exc)}],
        ) from exc
