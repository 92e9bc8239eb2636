"""The order the developer tools send (``oms bench``, ``oms chaos``, the benchmarks): a
card payment, shipped within Berlin, under the tool's own channel and customer."""

from __future__ import annotations

from typing import Any


def order_body(
    who: str,
    external_id: str,
    customer_id: str,
    street: str,
    lines: list[tuple[str, int, str]],
    token: str = "tok_ok",
) -> dict[str, Any]:
    """``lines`` as (sku, quantity, unit price). The channel is ``who`` in lower case, the
    customer's name ``who``. Each tool gives the address-velocity hold rule (customers per
    address) nothing to count: an address (``street``) of the run's or customer's own."""
    return {
        "channel": who.lower(),
        "external_id": external_id,
        "customer": {"id": customer_id, "email": f"{who.lower()}@example.com", "name": who},
        "shipping_address": {
            "name": who,
            "line1": street,
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "currency": "EUR",
        "lines": [
            {"sku": sku, "quantity": quantity, "unit_price": price}
            for sku, quantity, price in lines
        ],
        "payment": {"method": "card", "token": token},
    }
