"""Each string the API takes is described in the OpenAPI document by a pattern (and a
length limit) that accepts exactly what the server's validation accepts: checked here for
every kind of string field, on drawn strings full of padding, control characters and
Unicode spaces."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from api.schemas import (
    CarrierEventIn,
    Channel,
    Country,
    Currency,
    DeviceId,
    Email,
    Ident,
    Note,
    OrderCreate,
    PaymentMethod,
    Phone,
    PostalCode,
    Reason,
    Region,
    Sku,
    Strict,
    Text,
    WarehouseId,
)

FIELDS: dict[str, Any] = {
    "text": Text,
    "postal_code": PostalCode,
    "payment_method": PaymentMethod,
    "region": Region,
    "note": Note,
    "reason": Reason,
    "sku": Sku,
    "ident": Ident,
    "channel": Channel,
    "warehouse_id": WarehouseId,
    "email": Email,
    "country": Country,
    "phone": Phone,
    "device_id": DeviceId,
    # A plain string field of a body: its schema is given the rule on control characters.
    "plain": Annotated[str, Field(min_length=1, max_length=50)],
}

# The characters that make a difference: padding, control characters, Unicode spaces, the
# characters of codes and addresses; then anything at all.
TRICKY = " \t\n\r\x00\x01\x0b\x0c\x1c\x1f\x7f\x85\xa0\u2028\u3000\ufeff@.-_:aZz09DEU"
CHARACTERS = st.sampled_from(TRICKY) | st.characters(exclude_categories=("Cs",))


def _model(annotation: Any) -> type[Strict]:
    return type("One", (Strict,), {"__annotations__": {"value": annotation}})


def _schema(model: type[Any], field: str) -> dict[str, Any]:
    return model.model_json_schema()["properties"][field]  # type: ignore[no-any-return]


def _documented(schema: dict[str, Any], value: str) -> bool:
    """What a JSON Schema validator says: the pattern (ECMA-262 anchors, as a full match
    here) and the length counted in characters."""
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return False
    if "minLength" in schema and len(value) < schema["minLength"]:
        return False
    return "pattern" not in schema or re.fullmatch(schema["pattern"], value) is not None


def _accepted(model: type[Any], value: str) -> bool:
    try:
        model.model_validate({"value": value})
    except ValidationError:
        return False
    return True


def _values(pattern: str) -> st.SearchStrategy[str]:
    near = st.from_regex(pattern, fullmatch=True).flatmap(
        lambda v: st.tuples(st.text(CHARACTERS, max_size=3), st.text(CHARACTERS, max_size=3)).map(
            lambda pad: pad[0] + v + pad[1]
        )
    )
    return st.from_regex(pattern, fullmatch=True) | near | st.text(CHARACTERS, max_size=40)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_a_string_field_accepts_exactly_what_its_pattern_states(name: str) -> None:
    model = _model(FIELDS[name])
    schema = _schema(model, "value")

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_values(schema["pattern"]))
    def check(value: str) -> None:
        assert _documented(schema, value) == _accepted(model, value), repr(value)

    check()


def _currency_patterns() -> list[str]:
    groups = OrderCreate.model_json_schema()["anyOf"]
    return [group["properties"]["currency"]["pattern"] for group in groups]


def test_the_currency_groups_accept_exactly_the_currencies_the_server_takes() -> None:
    model = _model(Currency)
    patterns = _currency_patterns()

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(*(_values(p) for p in patterns)))
    def check(value: str) -> None:
        documented = sum(re.fullmatch(p, value) is not None for p in patterns)
        assert documented <= 1, value  # the groups do not overlap
        assert bool(documented) == _accepted(model, value), repr(value)

    check()


@pytest.mark.parametrize("field", ["event_id", "tracking_number", "carrier", "occurred_at"])
def test_a_partner_event_field_accepts_exactly_what_its_schema_states(field: str) -> None:
    properties = CarrierEventIn.model_json_schema()["properties"]
    schema = properties[field]
    schema = next((s for s in schema.get("anyOf", []) if s.get("type") == "string"), schema)
    base = {"event_id": "e-1", "tracking_number": "T1", "status": "delivered"}

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_values(schema["pattern"]))
    def check(value: str) -> None:
        try:
            CarrierEventIn.model_validate({**base, field: value})
            accepted = True
        except ValidationError:
            accepted = False
        assert _documented(schema, value) == accepted, repr(value)

    check()
