"""Starting an order's workflow, shared by the API (intake) and the worker (recovery).

Idempotent: the workflow id is ``order-<id>`` with duplicates rejected, so starting an
order that already runs, or ran, does nothing.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from oms.domain.ids import order_workflow_id
from oms.domain.messages import OrderInput, OrderView
from oms.domain.search_attributes import CUSTOMER_ID, ORDER_STATUS, SALES_CHANNEL
from oms.domain.status import OrderStatus
from oms.settings import Settings


async def start_order(client: Client, settings: Settings, view: OrderView, token: str) -> bool:
    """Start the order's workflow; False if it was already started. Raises RPCError when
    Temporal cannot be reached."""
    try:
        await client.start_workflow(
            "order",
            OrderInput(view, token, settings.release_delay_s),
            id=order_workflow_id(view.id),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(ORDER_STATUS, OrderStatus.RECEIVED.value),
                    SearchAttributePair(CUSTOMER_ID, view.customer.id),
                    SearchAttributePair(SALES_CHANNEL, view.channel),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
