"""The canonical channel order: what every platform adapter maps a native order to.

An adapter's ``to_order(payload)`` returns a :class:`ChannelOrder`. Money is decimal
strings in the order's currency with the currency's decimals; the lines at their unit
prices plus the adjustments (discounts negative, shipping and tax positive) add up to the
platform's own ``total`` exactly, to the cent. ``state`` is where the platform says the
trade is, in our words (the adapter's status table decides it); ``platform_status`` keeps
the platform's own value for the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

PLATFORMS = ("native", "shopify", "woocommerce", "taobao", "jd", "pdd", "amazon")
# Platforms that send signed webhooks (push) and those whose orders are read (pull).
PUSH_PLATFORMS = frozenset({"native", "shopify", "woocommerce"})
PULL_PLATFORMS = frozenset({"taobao", "jd", "pdd", "amazon"})


class PlatformState(StrEnum):
    UNPAID = "unpaid"  # created, the buyer has not paid: waits in ``received``
    PAID = "paid"  # the platform took (or authorised) the buyer's money: ready to fulfil
    ON_HOLD = "on_hold"  # the platform forbids shipping for now (risk control, locked)
    REFUND_REQUESTED = "refund_requested"  # the buyer asked for their money back
    SHIPPED = "shipped"  # the platform has it as shipped (partly or wholly)
    DELIVERED = "delivered"  # signed for, or the trade finished
    CANCELLED = "cancelled"  # closed or cancelled (by the buyer, seller or platform)


class AdjustmentKind(StrEnum):
    DISCOUNT = "discount"  # negative
    SHIPPING = "shipping"  # positive
    TAX = "tax"  # positive (when the platform's total includes it)
    ROUNDING = "rounding"  # what a line total that does not divide by its quantity leaves


@dataclass
class Adjustment:
    kind: str  # AdjustmentKind
    amount: str  # signed decimal string
    label: str = ""


@dataclass
class ChannelLine:
    sku: str  # the seller's SKU (Shopify sku, Taobao outer_sku_id, Amazon SellerSKU ...)
    quantity: int
    unit_price: str  # before order-level discounts
    line_id: str = ""  # the platform's line id (Taobao oid, Shopify line_items[].id)
    title: str = ""


@dataclass
class ChannelCustomer:
    id: str  # the platform's buyer id, prefixed by nothing (the channel scopes it)
    email: str = ""
    name: str = ""
    # When the buyer's account was made (ISO 8601), where the platform says.
    created_at: str | None = None


@dataclass
class ChannelClient:
    """Where the buyer ordered from, where the platform says (its storefront's view)."""

    ip: str | None = None
    device_id: str | None = None


@dataclass
class ChannelAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2
    line2: str | None = None
    region: str | None = None
    phone: str | None = None


@dataclass
class ChannelOrder:
    platform: str
    external_id: str  # Shopify id, Woo id, Taobao tid, JD orderId, PDD order_sn, AmazonOrderId
    state: str  # PlatformState
    platform_status: str  # the platform's own status value(s), for the timeline
    currency: str
    lines: list[ChannelLine]
    total: str  # the platform's own total: sum(lines) + sum(adjustments), exactly
    customer: ChannelCustomer
    shipping_address: ChannelAddress
    created_at: str  # ISO 8601 with offset
    updated_at: str
    adjustments: list[Adjustment] = field(default_factory=list)
    paid_at: str | None = None
    # The platform's payment reference when the platform charged the buyer (Taobao
    # alipay_no, Shopify's gateway transaction, ...); None for native orders.
    payment_reference: str | None = None
    # True when the platform itself takes the money (every marketplace and shop platform):
    # the OMS records the payment, it never authorises or captures it again.
    prepaid: bool = True
    # The native order's payment instrument, for ``native`` orders only.
    payment_method: str = ""
    payment_token: str = ""
    client: ChannelClient | None = None


@dataclass
class ShippedLine:
    """A line of a shipment, as a platform's ship request names it: the platform's line id
    (Shopify line item, Amazon OrderItemId ...), the SKU, and how many units left."""

    sku: str
    quantity: int
    line_id: str = ""
