"""Orders: the search (a GET form, so a search is a bookmarkable URL; htmx refreshes only
the results) and a customer's page. The matching rules are those of
``oms.store.order_search``; a criterion that cannot be read (a bad date, an unknown status)
is a message above the form, never an error page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.console.sla import duration, sla_state
from api.console.web import ConsoleUser, UserDep, render, translate
from api.orders_read import ORDERS_CURSOR, encode_orders_cursor
from oms.domain.status import OrderStatus
from oms.store import order_search
from oms.store.order_search import Criteria

router = APIRouter(include_in_schema=False)
PAGE = 50
STATUSES = tuple(s.value for s in OrderStatus)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What a text criterion may hold: printable, no control characters.
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")
_LIMITS = {
    "order": 128,
    "customer": 128,
    "email": 254,
    "phone": 40,
    "sku": 128,
    "channel": 64,
}
TEXT_FIELDS = tuple(_LIMITS)
# Personal data: searched by only the roles that may see it.
PERSONAL_FIELDS = ("email", "phone")


@dataclass
class Search:
    """The form as the user filled it (echoed back into the form), what it means, and the
    messages for what could not be read."""

    values: dict[str, str] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)
    late: bool = False
    criteria: Criteria = field(default_factory=Criteria)
    after: tuple[datetime, str] | None = None
    errors: list[str] = field(default_factory=list)
    refused: bool = False

    def query(self, **extra: str) -> str:
        """The search's URL query, with ``extra`` (the next page's position)."""
        from urllib.parse import urlencode

        pairs: list[tuple[str, str]] = [(k, v) for k, v in self.values.items() if v]
        pairs += [("status", s) for s in self.statuses]
        if self.late:
            pairs.append(("late", "1"))
        pairs += list(extra.items())
        return urlencode(pairs)


def _day(request: Request, raw: str, name: str, search: Search) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        search.errors.append(
            f"{translate(request, 'Not a date (YYYY-MM-DD):')} {name} = {raw[:40]}"
        )
        return None


def _cursor(raw: str) -> tuple[datetime, str] | None:
    if not re.fullmatch(ORDERS_CURSOR, raw):
        return None
    micros, order_id = raw.split("-")
    return _EPOCH + timedelta(microseconds=int(micros)), order_id


def read_search(request: Request, user: ConsoleUser) -> Search:
    params = request.query_params
    search = Search()
    for name in TEXT_FIELDS:
        value = (params.get(name) or "").strip()
        if not value:
            continue
        search.values[name] = value[: _LIMITS[name]]
        if len(value) > _LIMITS[name] or not _PRINTABLE.fullmatch(value):
            search.errors.append(f"{translate(request, 'Too long or not text:')} {name}")
    for name in PERSONAL_FIELDS:
        if search.values.get(name) and not user.sees_personal_data:
            search.refused = True
            search.errors.append(translate(request, "Your role may not search by email or phone."))
            break
    phone = search.values.get("phone", "")
    if phone and len(re.sub(r"[^0-9]", "", phone)) < 3:
        search.errors.append(translate(request, "A phone number needs at least 3 digits."))
    for status in params.getlist("status"):
        if not status:
            continue
        if status not in STATUSES:
            search.errors.append(f"{translate(request, 'Unknown status:')} {status[:40]}")
        elif status not in search.statuses:
            search.statuses.append(status)
    search.late = (params.get("late") or "").lower() in ("1", "on", "true", "yes")
    first = _day(request, (params.get("from") or "").strip(), "from", search)
    last = _day(request, (params.get("to") or "").strip(), "to", search)
    search.values["from"] = (params.get("from") or "").strip()[:40]
    search.values["to"] = (params.get("to") or "").strip()[:40]
    if first and last and first > last:
        search.errors.append(translate(request, "The first day is after the last."))
    after = (params.get("after") or "").strip()
    if after:
        search.after = _cursor(after)
        if search.after is None:
            search.errors.append(translate(request, "That page link is not valid: search again."))
    v = search.values
    search.criteria = Criteria(
        order=v.get("order"),
        customer=v.get("customer"),
        email=v.get("email"),
        phone=v.get("phone"),
        sku=v.get("sku"),
        statuses=tuple(search.statuses),
        channel=v.get("channel"),
        created_from=datetime.combine(first, time(), UTC) if first else None,
        created_before=(datetime.combine(last, time(), UTC) + timedelta(days=1)) if last else None,
        late=search.late,
    )
    return search


def rows_for_page(request: Request, rows: list[Any]) -> list[dict[str, Any]]:
    settings = request.app.state.settings
    now = datetime.now(UTC)
    shown = []
    for row in rows:
        state = sla_state(
            row.status,
            row.created_at,
            bool(row.late),
            now,
            settings.sla_dispatch_s,
            settings.sla_delivery_s,
        )
        shown.append(
            {
                "id": row.id,
                "external_id": row.external_id,
                "channel": row.channel,
                "status": row.status,
                "created_at": row.created_at,
                "total": row.total,
                "currency": row.currency,
                "customer_id": row.customer_id,
                "customer_name": row.customer_name,
                "sla": state.kind,
                "sla_left": duration(state.left) if state.left is not None else "",
                "deadline": state.deadline,
            }
        )
    return shown


async def _page_of(
    request: Request, user: ConsoleUser, criteria: Criteria, after: tuple[datetime, str] | None
) -> tuple[list[dict[str, Any]], str | None]:
    rows = await order_search.search(
        request.app.state.engine,
        criteria,
        before=after,
        limit=PAGE + 1,
        personal=user.sees_personal_data,
    )
    page = rows[:PAGE]
    more = encode_orders_cursor(page[-1].created_at, page[-1].id) if len(rows) > PAGE else None
    return rows_for_page(request, page), more


@router.get("/console/orders")
async def orders_page(request: Request, user: UserDep) -> Response:
    search = read_search(request, user)
    orders: list[dict[str, Any]] = []
    more = None
    if not search.errors:
        orders, more = await _page_of(request, user, search.criteria, search.after)
    status = 403 if search.refused else 422 if search.errors else 200
    partial = request.headers.get("hx-request") and request.headers.get("hx-target") == "results"
    return render(
        request,
        user,
        "_order_results.html" if partial else "orders.html",
        status_code=status,
        search=search,
        orders=orders,
        next_query=search.query(after=more) if more else None,
        statuses=STATUSES,
    )


@router.get("/console/customers/{customer_id}")
async def customer_page(
    request: Request,
    user: UserDep,
    customer_id: Annotated[str, Path(min_length=1, max_length=128)],
) -> Response:
    engine = request.app.state.engine
    after_raw = (request.query_params.get("after") or "").strip()
    after = _cursor(after_raw) if after_raw else None
    if after_raw and after is None:
        return render(
            request,
            user,
            "error.html",
            status_code=422,
            status=422,
            message="That page link is not valid: search again.",
        )
    summary = await order_search.customer_summary(
        engine, customer_id, personal=user.sees_personal_data
    )
    if summary.orders == 0:
        return render(
            request,
            user,
            "error.html",
            status_code=404,
            status=404,
            message="No orders for this customer.",
        )
    orders, more = await _page_of(request, user, Criteria(customer_id=customer_id), after)
    return render(
        request,
        user,
        "customer.html",
        customer=summary,
        orders=orders,
        next_query=f"after={more}" if more else None,
    )
