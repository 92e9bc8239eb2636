"""Our carrier names to each platform's carrier codes, for the ship request.

A platform accepts a shipment only with a carrier it knows, named its own way: Taobao by
a code ("SF", "YTO"), JD and PDD by a numeric id from their logistics-company lists
(``jingdong.get.vender.all.delivery.company``, ``pdd.logistics.companies.get``), Shopify
and Amazon by a name, WooCommerce by nothing at all (the carrier is order metadata). The
table holds the common carriers; a carrier it does not know is the platform's "other"
value. A channel can override or extend the table in its credentials
(``{"carrier_codes": {"SIMPOST": "..."}}``), which is also where an account whose
platform lists other ids says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CARRIERS: dict[str, dict[str, str]] = {
    # our name: {platform: code}
    "SF": {
        "shopify": "SF Express",
        "taobao": "SF",
        "jd": "467",
        "pdd": "44",
        "amazon": "SF Express",
    },
    "YTO": {
        "shopify": "YTO Express",
        "taobao": "YTO",
        "jd": "463",
        "pdd": "85",
        "amazon": "YTO Express",
    },
    "ZTO": {
        "shopify": "ZTO Express",
        "taobao": "ZTO",
        "jd": "1499",
        "pdd": "115",
        "amazon": "ZTO Express",
    },
    "STO": {"shopify": "STO Express", "taobao": "STO", "jd": "470", "pdd": "1"},
    "YUNDA": {
        "shopify": "Yunda Express",
        "taobao": "YUNDA",
        "jd": "1327",
        "pdd": "121",
        "amazon": "Yunda",
    },
    "EMS": {"shopify": "China EMS (ePacket)", "taobao": "EMS", "jd": "465", "pdd": "118"},
    "JD": {"taobao": "JD", "jd": "2087", "pdd": "120"},
    "UPS": {"shopify": "UPS", "amazon": "UPS", "taobao": "UPS"},
    "USPS": {"shopify": "USPS", "amazon": "USPS"},
    "FEDEX": {"shopify": "FedEx", "amazon": "FedEx", "taobao": "FEDEX"},
    "DHL": {"shopify": "DHL Express", "amazon": "DHL", "taobao": "DHL"},
}

# What each platform calls a carrier it has no code for.
OTHER: dict[str, str] = {
    "shopify": "Other",
    "woocommerce": "OTHER",
    "taobao": "OTHER",
    "jd": "OTHER",
    "pdd": "OTHER",
    "amazon": "Other",
    "native": "OTHER",
}


def carrier_code(platform: str, carrier: str, credentials: Mapping[str, Any] | None = None) -> str:
    """The platform's code for our ``carrier`` (case-insensitive), the channel's own
    override first, else the platform's "other" value."""
    name = carrier.strip().upper()
    overrides = (credentials or {}).get("carrier_codes") or {}
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if str(key).strip().upper() == name and isinstance(value, str | int):
                return str(value)
    return CARRIERS.get(name, {}).get(platform, OTHER.get(platform, "OTHER"))


def is_known(platform: str, carrier: str, credentials: Mapping[str, Any] | None = None) -> bool:
    """Whether the platform gets a real code for ``carrier`` (not its "other" value)."""
    return carrier_code(platform, carrier, credentials) != OTHER.get(platform, "OTHER")
