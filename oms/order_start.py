"""Starting an order's workflow, shared by the API (intake) and the worker (recovery).

Idempotent: the workflow id is ``order-<id>`` with duplicates rejected, so starting an
order that already runs, or ran, does nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from oms.channels.config import ChannelConfig
from oms.contract import ORDER_WORKFLOW, Signal
from oms.domain.ids import order_workflow_id
from oms.domain.messages import ChannelEvent, OperatorAction, OrderInput, OrderView
from oms.domain.search_attributes import (
    CUSTOMER_ID,
    ORDER_LATE,
    ORDER_STATUS,
    ORDER_TOTAL,
    SALES_CHANNEL,
    SLA_DEADLINE,
)
from oms.domain.shortage import BACKORDER, for_channel, parse_shortage, parse_split
from oms.domain.status import OrderStatus
from oms.settings import Settings

# A caller (a client submitting an order) should hear within seconds when Temporal does
# not answer; the order is recorded and the recovery sweep starts it later.
START_TIMEOUT_S = 5.0
# An unpaid platform order's wait for its payment when its channel is not known.
DEFAULT_PAYMENT_TIMEOUT_S = 86400.0


# Input fields that are not settings of the same name.
_NOT_SETTINGS = frozenset(
    {
        "view",
        "payment_token",
        "backorder",
        "split_shipments",
        "awaiting_payment",
        "payment_timeout_s",
        "prepaid",
        "shadow",
        "report_shipments",
        "imported",
    }
)


def order_input(
    settings: Settings, view: OrderView, token: str, channel: ChannelConfig | None = None
) -> OrderInput:
    """The new order's input: its view, its token, and every timing setting the workflow
    needs (a workflow cannot read settings itself), by the same names as in Settings.

    Shortage and split come from the order's configured ``channel`` where it sets them,
    and from the settings (OMS_SHORTAGE, OMS_SPLIT) otherwise. A platform's order
    (``view.platform``) adds what its channel and platform say: wait for an unpaid order's
    payment, record a payment the platform took, decide a shadow channel's order without
    acting, report shipments back. An imported open order (``view.imported``) starts at
    the stage it reached in the old system."""
    timings = {
        f.name: getattr(settings, f.name) for f in fields(OrderInput) if f.name not in _NOT_SETTINGS
    }
    shortage = for_channel(parse_shortage(settings.shortage), view.channel)
    split = for_channel(parse_split(settings.split), view.channel)
    if channel is not None and channel.name == view.channel:
        shortage = channel.shortage if channel.shortage is not None else shortage
        split = channel.split if channel.split is not None else split
    inp = OrderInput(view, token, backorder=shortage == BACKORDER, split_shipments=split, **timings)
    platform = view.platform
    if platform is not None:
        inp.prepaid = platform.prepaid
        inp.shadow = platform.mode == "shadow"
        inp.awaiting_payment = platform.state == "unpaid"
        timeout = channel.payment_timeout_s if channel else DEFAULT_PAYMENT_TIMEOUT_S
        inp.payment_timeout_s = timeout if inp.awaiting_payment else 0.0
        inp.report_shipments = platform.prepaid and not inp.shadow
    # An open order imported from another system starts at the stage it reached there.
    inp.imported = view.imported
    return inp


def initial_search_attributes(settings: Settings, view: OrderView) -> TypedSearchAttributes:
    """What operators filter on from the first moment: status, customer, channel, total,
    the dispatch deadline, and not late (yet). No personal data."""
    created = datetime.fromisoformat(view.created_at)
    if view.imported is not None:
        # Its deadlines run from its takeover (workflows/order.py), not its creation there.
        created = datetime.now(UTC)
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(ORDER_STATUS, OrderStatus.RECEIVED.value),
        SearchAttributePair(CUSTOMER_ID, view.customer.id),
        SearchAttributePair(SALES_CHANNEL, view.channel),
        SearchAttributePair(ORDER_TOTAL, float(view.totals.total)),
        SearchAttributePair(ORDER_LATE, False),
    ]
    dispatched = view.imported is not None and view.imported.stage == "dispatched"
    if settings.sla_dispatch_s > 0 and not dispatched:
        deadline = created + timedelta(seconds=settings.sla_dispatch_s)
        pairs.append(SearchAttributePair(SLA_DEADLINE, deadline))
    return TypedSearchAttributes(pairs)


async def start_order(
    client: Client,
    settings: Settings,
    view: OrderView,
    token: str,
    cancel: OperatorAction | None = None,
    channel: ChannelConfig | None = None,
    first_event: ChannelEvent | None = None,
) -> bool:
    """Start the order's workflow; False if it was already started. Raises RPCError or
    TimeoutError when Temporal cannot be reached or does not answer in time.

    With ``cancel``, the start is a signal-with-start of the ``cancel`` signal: the workflow
    sees the cancel before its first step, so a cancel sent for an order whose workflow
    never started wins over any later start (the recovery sweep's included). If the
    workflow already runs, the signal simply reaches it. ``channel``: the order's configured
    channel, whose shortage and split win over the settings (see :func:`order_input`).
    With ``first_event``, the same for what the order's platform said at once (a refund
    asked for, a platform hold).
    """
    signal: tuple[str, Any] | None = None
    if cancel is not None:
        signal = (Signal.CANCEL, cancel)
    elif first_event is not None:
        signal = (Signal.CHANNEL_EVENT, first_event)
    try:
        await asyncio.wait_for(
            client.start_workflow(
                ORDER_WORKFLOW,
                order_input(settings, view, token, channel),
                id=order_workflow_id(view.id),
                task_queue=settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=initial_search_attributes(settings, view),
                rpc_timeout=timedelta(seconds=START_TIMEOUT_S),
                start_signal=signal[0] if signal else None,
                start_signal_args=[signal[1]] if signal else [],
            ),
            timeout=START_TIMEOUT_S + 1,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
