"""What goes back to each platform when an order ships, the carrier codes, and the
registry that hands out the adapters."""

from __future__ import annotations

import pytest

from oms.channels.canonical import PLATFORMS, ShippedLine
from oms.channels.carriers import CARRIERS, OTHER, carrier_code, is_known
from oms.channels.errors import MappingError
from oms.channels.registry import ADAPTERS, PlatformAdapter, UnknownPlatform, adapter

LINES = [
    ShippedLine(sku="TSHIRT-BLK-M", quantity=2, line_id="13729361231234"),
    ShippedLine(sku="MUG-WHT", quantity=1, line_id="13729361231235"),
]


def test_shopify_fulfillment() -> None:
    body = adapter("shopify").ship_request("5940139491234", "1Z999AA10123456784", "UPS", LINES)
    assert body == {
        "fulfillment": {
            "order_id": "5940139491234",
            "tracking_info": {"number": "1Z999AA10123456784", "company": "UPS"},
            "notify_customer": True,
            "line_items": [
                {"id": "13729361231234", "quantity": 2},
                {"id": "13729361231235", "quantity": 1},
            ],
        }
    }


def test_woocommerce_completes_the_order_with_tracking_metadata() -> None:
    body = adapter("woocommerce").ship_request("727", "SP123", "SIMPOST", LINES)
    assert body["status"] == "completed"
    meta = {m["key"]: m["value"] for m in body["meta_data"]}
    assert meta["tracking_number"] == "SP123"
    assert meta["tracking_provider"] == "SIMPOST"
    assert meta["shipped_items"][0] == {
        "sku": "TSHIRT-BLK-M",
        "line_id": "13729361231234",
        "quantity": 2,
    }


def test_taobao_offline_send() -> None:
    body = adapter("taobao").ship_request("3300123456789012345", "SF1234567890", "SF", LINES)
    assert body == {"tid": "3300123456789012345", "out_sid": "SF1234567890", "company_code": "SF"}


def test_jd_shipment() -> None:
    body = adapter("jd").ship_request("230000000001", "YT0000000001", "yto", LINES)
    assert body == {"orderId": "230000000001", "logiCoprId": "463", "logiNo": "YT0000000001"}


def test_pdd_online_send() -> None:
    body = adapter("pdd").ship_request("261111-123456789012345", "ZTO1", "ZTO", LINES)
    assert body == {
        "order_sn": "261111-123456789012345",
        "logistics_id": "115",
        "tracking_number": "ZTO1",
    }


def test_amazon_confirm_shipment() -> None:
    credentials = {"marketplace_id": "ATVPDKIKX0DER"}
    body = adapter("amazon").ship_request(
        "902-3159896-1390916", "9400100000000000000000", "USPS", LINES, credentials=credentials
    )
    package = body["packageDetail"]
    assert body["marketplaceId"] == "ATVPDKIKX0DER"
    assert package["carrierCode"] == "USPS" and "carrierName" not in package
    assert package["trackingNumber"] == "9400100000000000000000"
    assert package["orderItems"] == [
        {"orderItemId": "13729361231234", "quantity": 2},
        {"orderItemId": "13729361231235", "quantity": 1},
    ]
    # A positive number, the same for the same tracking number (a retry), else another.
    reference = package["packageReferenceId"]
    assert reference.isdigit() and int(reference) > 0
    again = adapter("amazon").ship_request(
        "902-3159896-1390916", "9400100000000000000000", "USPS", LINES, credentials=credentials
    )
    assert again["packageDetail"]["packageReferenceId"] == reference
    other = adapter("amazon").ship_request(
        "902-3159896-1390916", "9400100000000000000001", "SIMPOST", LINES, credentials=credentials
    )
    assert other["packageDetail"]["packageReferenceId"] != reference
    assert other["packageDetail"]["carrierCode"] == "Other"
    assert other["packageDetail"]["carrierName"] == "SIMPOST"


def test_amazon_needs_the_marketplace() -> None:
    with pytest.raises(MappingError) as caught:
        adapter("amazon").ship_request("902-3159896-1390916", "T1", "UPS", LINES)
    assert caught.value.field == "marketplace_id"


def test_native_ship_notice_is_our_own_shape() -> None:
    body = adapter("native").ship_request("WEB-100045", "SP1", "SIMPOST", LINES)
    assert body == {
        "external_id": "WEB-100045",
        "tracking_number": "SP1",
        "carrier": "SIMPOST",
        "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}, {"sku": "MUG-WHT", "quantity": 1}],
    }


@pytest.mark.parametrize("platform", ["shopify", "taobao", "jd", "pdd", "amazon"])
def test_unknown_carrier_is_the_platforms_other_value(platform: str) -> None:
    assert carrier_code(platform, "SIMPOST") == OTHER[platform]
    assert not is_known(platform, "SIMPOST")
    assert is_known(platform, "SF")


def test_a_channel_overrides_the_carrier_table() -> None:
    credentials = {"carrier_codes": {"simpost": "9999", "SF": 12}}
    assert carrier_code("jd", "SIMPOST", credentials) == "9999"
    assert carrier_code("jd", "sf", credentials) == "12"
    assert carrier_code("jd", "YTO", credentials) == "463"
    body = adapter("pdd").ship_request("sn", "T", "SIMPOST", LINES, credentials=credentials)
    assert body["logistics_id"] == "9999"


def test_carrier_table_names_only_known_platforms() -> None:
    for codes in CARRIERS.values():
        assert set(codes) <= set(PLATFORMS)
    assert set(OTHER) == set(PLATFORMS)


def test_registry_has_every_platform_and_refuses_others() -> None:
    assert tuple(ADAPTERS) == PLATFORMS
    for platform in PLATFORMS:
        module: PlatformAdapter = adapter(platform)
        assert module.PLATFORM == platform
        assert module.STATUS and module.FIELDS
        assert {"external_id", "total"} <= set(module.FIELDS)
    with pytest.raises(UnknownPlatform, match="ebay"):
        adapter("ebay")
