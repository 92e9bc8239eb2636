"""Returns and refunds (docs/returns.md): the bodies that open a return, decide it and
give a refund; the answers that show them; the warehouse's count of a returned line."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictInt

from api.schemas.partners import PartnerEvent, _event_text
from oms.domain.text import MAX_LINES, Note, Sku, Strict, Text, amount_core, padded


def _not_a_boolean(value: object) -> object:
    # JSON Schema's integer takes 3.0 but not false; pydantic's int takes both.
    if isinstance(value, bool):
        raise ValueError("a count of units, not a boolean")
    return value


Units = Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(_not_a_boolean)]
RESOLUTIONS = ("refund", "exchange", "store_credit", "none")


class ReturnLineIn(Strict):
    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]


class ReturnCreate(Strict):
    """Units of a delivered order coming back, and what the customer gets for them."""

    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=MAX_LINES)]
    reason: Text
    resolution: Literal["refund", "exchange", "store_credit", "none"]
    note: Note | None = None
    # Who asked, for the timeline; the key's name otherwise.
    by: Text | None = None


class RefundCreate(Strict):
    """Money back without a return (goodwill, a price adjustment): an ``amount``, or
    ``lines`` whose value (with their share of the order's discounts and taxes) is
    refunded; one of the two."""

    amount: (
        Annotated[
            str,
            Field(
                pattern=padded(amount_core(4)),
                description="a decimal string within the order currency's decimals",
            ),
        ]
        | None
    ) = None
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=MAX_LINES)] | None = None
    reason: Text
    note: Text
    by: Text | None = None


class ReturnLineOut(BaseModel):
    sku: str
    quantity: int
    restockable: int | None = None
    damaged: int | None = None
    missing: int | None = None
    received_at: str | None = None
    restocked: bool = False


class ReturnOut(BaseModel):
    id: str
    order_id: str
    status: Literal["requested", "approved", "rejected", "received", "closed"]
    reason: str
    resolution: str
    requested_by: str
    note: str | None = None
    warehouse_id: str
    decided_by: str | None = None
    decision_note: str | None = None
    tracking_number: str | None = None
    refund_id: str | None = None
    exchange_order_id: str | None = None
    created_at: str
    updated_at: str
    lines: list[ReturnLineOut]


class ReturnList(BaseModel):
    items: list[ReturnOut]


class RefundOut(BaseModel):
    id: str
    order_id: str
    return_id: str | None = None
    amount: str
    currency: str
    status: Literal["pending", "succeeded", "failed"]
    reason: str
    note: str | None = None
    requested_by: str
    refunded: str
    error: str | None = None
    created_at: str
    updated_at: str


class RefundList(BaseModel):
    items: list[RefundOut]


class ReturnEventIn(PartnerEvent):
    """The warehouse counted one returned SKU of a return."""

    event_id: Annotated[str, _event_text(1, 128)]
    type: Literal["return_line_received"]
    return_id: Annotated[str, _event_text(1, 64)]
    sku: Annotated[str, _event_text(1, 64)]
    restockable: Units = 0
    damaged: Units = 0
    missing: Units = 0
    occurred_at: Annotated[str, _event_text(0, None)] | None = None
