"""Which adapter maps which platform, and the interface every adapter module keeps.

Each module under ``oms.channels.platforms`` is an adapter by its module-level names
(no classes to instantiate: the mapping is pure data and pure functions). mypy checks
each module against :class:`PlatformAdapter` where :data:`ADAPTERS` is built, so a module
that drifts from the interface fails the lint, not an order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from oms.channels.canonical import PLATFORMS, ChannelOrder, PlatformState, ShippedLine
from oms.channels.platforms import amazon, jd, native, pdd, shopify, taobao, woocommerce


class PlatformAdapter(Protocol):
    """A platform adapter module.

    ``STATUS``: the platform's status values to our states, as data (PDD's several
    fields are flattened to "field=value" keys; its module documents their order).
    ``FIELDS``: our field to the platform's field path, as documentation data.
    ``external_id`` and ``updated_at`` read the order's id and last change cheaply
    (deduplication and pull cursors); ``state`` reads only the status fields;
    ``to_order`` maps the whole order or raises ``MappingError``; ``ship_request`` is
    the body (or API parameters) that tells the platform an order has shipped.
    """

    PLATFORM: str
    STATUS: dict[str, PlatformState]
    FIELDS: dict[str, str]

    def external_id(self, payload: dict[str, Any]) -> str: ...

    def updated_at(self, payload: dict[str, Any]) -> str: ...

    def state(self, payload: dict[str, Any]) -> PlatformState: ...

    def to_order(self, payload: dict[str, Any]) -> ChannelOrder: ...

    def ship_request(
        self,
        order_external_id: str,
        tracking_number: str,
        carrier: str,
        lines: Sequence[ShippedLine],
        *,
        credentials: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...


ADAPTERS: dict[str, PlatformAdapter] = {
    "native": native,
    "shopify": shopify,
    "woocommerce": woocommerce,
    "taobao": taobao,
    "jd": jd,
    "pdd": pdd,
    "amazon": amazon,
}
assert tuple(ADAPTERS) == PLATFORMS


class UnknownPlatform(ValueError):
    pass


def adapter(platform: str) -> PlatformAdapter:
    """The adapter of ``platform`` (one of ``canonical.PLATFORMS``)."""
    try:
        return ADAPTERS[platform]
    except KeyError:
        raise UnknownPlatform(
            f"unknown platform {platform!r}: one of {', '.join(PLATFORMS)}"
        ) from None
