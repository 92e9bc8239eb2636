"""Partners' events: what warehouses and carriers report through the webhooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from oms.domain.text import PRINTABLE, check_printable


class PartnerEvent(BaseModel):
    """A partner's event. Unknown fields are ignored; nothing is stripped."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        return check_printable(value)


def _event_text(min_length: int, max_length: int | None) -> Any:
    return Field(
        min_length=min_length, max_length=max_length, json_schema_extra={"pattern": PRINTABLE}
    )


class WarehouseEventIn(PartnerEvent):
    event_id: Annotated[str, _event_text(1, 128)]
    type: Literal["shipped"]
    shipment_id: Annotated[str, _event_text(1, 128)]
    tracking_number: Annotated[str, _event_text(1, 64)]
    carrier: Annotated[str, _event_text(0, 64)] | None = None
    occurred_at: Annotated[str, _event_text(0, None)] | None = None


class CarrierEventIn(PartnerEvent):
    event_id: Annotated[str, _event_text(1, 128)]
    tracking_number: Annotated[str, _event_text(1, 64)]
    status: Literal["in_transit", "out_for_delivery", "delivered"]
    carrier: Annotated[str, _event_text(0, 64)] | None = None
    occurred_at: Annotated[str, _event_text(0, None)] | None = None
