"""Sales channels as configuration, over HTTP against the session's stack: added, listed,
changed and disabled; secrets sealed in the database and never answered; a channel's own
shortage and routing reaching its orders while the settings say otherwise."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from oms import channel_registry
from tests.integration.helpers import (
    TERMINAL,
    add_warehouse,
    order_body,
    set_stock,
    submit,
    unique,
    wait_for_status,
)

SECRET = "whsec-" + "s3cr3t-value-for-tests"
APP_SECRET = "app-secret-never-shown"


def _name(prefix: str = "ch") -> str:
    return unique(prefix).lower()


def _push(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "platform": "shopify", "intake": "push", "secret": SECRET, **extra}


def _pull(name: str, **extra: Any) -> dict[str, Any]:
    credentials = {"base_url": "http://127.0.0.1:9/taobao", "app_secret": APP_SECRET}
    return {
        "name": name,
        "platform": "taobao",
        "intake": "pull",
        "credentials": credentials,
        **extra,
    }


async def _sealed(system: Any, name: str) -> Any:
    async with system.engine.connect() as conn:
        query = text("SELECT secret_sealed, credentials_sealed FROM channels WHERE name = :n")
        return (await conn.execute(query, {"n": name})).one()


async def test_a_push_channel_is_added_with_its_secret_sealed_and_never_answered(admin, system):
    name = _name()
    created = await admin.post("/v1/channels", json=_push(name, mode="shadow"))
    shown = await admin.get(f"/v1/channels/{name}")
    listed = await admin.get("/v1/channels")
    row = await _sealed(system, name)

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["webhook_path"] == f"/v1/channels/{name}/webhooks"
    assert (body["platform"], body["intake"], body["mode"]) == ("shopify", "push", "shadow")
    assert body["secret_set"] is True and body["created_by"] == "admin"
    assert body["routing"] is None and body["shortage"] is None and body["split"] is None
    for response in (created, shown, listed):
        assert SECRET not in response.text
    assert shown.json()["secret_set"] is True
    assert name in [c["name"] for c in listed.json()["items"]]
    # Sealed in the database: not the secret, but it opens with the payload keys.
    assert row.secret_sealed is not None and SECRET.encode() not in bytes(row.secret_sealed)
    loaded = await channel_registry.load_channel(system.engine, name)
    assert loaded is not None and loaded.secret == SECRET and SECRET not in repr(loaded)


async def test_a_pull_channel_keeps_its_credentials_sealed_and_lists_only_their_names(
    admin, system
):
    name = _name()
    created = await admin.post("/v1/channels", json=_pull(name))
    row = await _sealed(system, name)

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["credential_keys"] == ["app_secret", "base_url"]
    assert body["webhook_path"] is None and body["secret_set"] is False
    assert body["pull_schedule"] == "ensured"
    assert APP_SECRET not in created.text
    assert APP_SECRET.encode() not in bytes(row.credentials_sealed)
    assert name in [c.name for c in await channel_registry.pull_channels(system.engine)]


async def test_a_duplicate_name_is_409_and_changes_nothing(admin):
    name = _name()
    assert (await admin.post("/v1/channels", json=_push(name))).status_code == 201
    again = await admin.post("/v1/channels", json=_push(name, mode="shadow"))
    kept = (await admin.get(f"/v1/channels/{name}")).json()

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert kept["mode"] == "live"


async def test_channels_the_oms_cannot_serve_are_422_with_the_field_named(admin):
    cases = [
        ({**_push(_name()), "intake": "pull"}, "intake"),  # shopify is push only here
        ({**_pull(_name()), "intake": "both"}, "intake"),
        ({k: v for k, v in _push(_name()).items() if k != "secret"}, "secret"),
        ({**_pull(_name()), "credentials": {"app_key": "k"}}, "credentials"),
        ({**_push(_name()), "routing": "quickest"}, "routing"),
        ({**_push("Bad Name")}, "name"),
        ({**_push(_name()), "platform": "ebay"}, "platform"),
    ]
    for body, field in cases:
        response = await admin.post("/v1/channels", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in response.text, response.text
        if "name" in body and body["name"] != "Bad Name":
            assert (await admin.get(f"/v1/channels/{body['name']}")).status_code == 404


async def test_unknown_channels_are_404(admin):
    name = _name()
    for response in (
        await admin.get(f"/v1/channels/{name}"),
        await admin.patch(f"/v1/channels/{name}", json={"mode": "shadow"}),
        await admin.delete(f"/v1/channels/{name}"),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_mode_switch_is_recorded_with_who_and_when(admin, system):
    name = _name()
    await admin.post("/v1/channels", json=_push(name))
    operator = await admin.post("/v1/keys", json={"name": unique("ops"), "role": "admin"})
    async with httpx.AsyncClient(
        base_url=system.api_url,
        headers={"Authorization": f"Bearer {operator.json()['key']}"},
        timeout=30,
    ) as other:
        switched = await other.patch(f"/v1/channels/{name}", json={"mode": "shadow"})
    same = await admin.patch(f"/v1/channels/{name}", json={"mode": "shadow", "split": False})

    assert switched.status_code == 200, switched.text
    first = switched.json()
    assert first["mode"] == "shadow"
    assert first["mode_changed_by"] == operator.json()["name"]
    assert first["mode_changed_at"] >= first["created_at"]
    # Setting the same mode again is no switch: who and when stay.
    second = same.json()
    assert (second["mode_changed_by"], second["mode_changed_at"]) == (
        first["mode_changed_by"],
        first["mode_changed_at"],
    )
    assert second["split"] is False and second["updated_by"] == "admin"
    # The process that made the change reads it at once (no stale cache).
    loaded = await channel_registry.load_channel(system.engine, name)
    assert loaded is not None and loaded.mode == "shadow"


async def test_a_change_that_leaves_the_channel_unservable_is_refused(admin):
    name = _name()
    await admin.post("/v1/channels", json=_pull(name))
    refused = [
        await admin.patch(f"/v1/channels/{name}", json={"intake": "push"}),
        await admin.patch(f"/v1/channels/{name}", json={"credentials": {"base_url": None}}),
    ]
    merged = await admin.patch(
        f"/v1/channels/{name}", json={"credentials": {"access_token": "t", "app_secret": None}}
    )

    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("/channel-invalid")
    assert merged.status_code == 200, merged.text
    assert merged.json()["credential_keys"] == ["access_token", "base_url"]
    assert merged.json()["intake"] == "pull"


async def test_disabling_keeps_the_channel_and_twice_is_harmless(admin, system):
    name = _name()
    await admin.post("/v1/channels", json=_pull(name))
    first = await admin.delete(f"/v1/channels/{name}")
    second = await admin.delete(f"/v1/channels/{name}")

    assert first.status_code == second.status_code == 200
    assert first.json()["enabled"] is False and first.json()["pull_schedule"] == "removed"
    assert name not in [c.name for c in await channel_registry.pull_channels(system.engine)]
    assert (await admin.get(f"/v1/channels/{name}")).json()["enabled"] is False


async def test_a_channel_set_to_backorder_backorders_while_the_settings_say_fail(admin, system):
    assert system.settings.shortage == "default:fail"
    name = _name("bo")
    created = await admin.post("/v1/channels", json=_push(name, shortage="backorder"))
    assert created.status_code == 201, created.text
    wh = await add_warehouse(admin, priority=1)
    sku = unique("SKU")
    await set_stock(admin, wh, sku, 0)

    waiting = await submit(admin, order_body([(sku, 1)], channel=name))
    failing = await submit(admin, order_body([(sku, 1)], channel=_name("plain")))
    held = await wait_for_status(admin, waiting["id"], {"backordered", *TERMINAL})
    failed = await wait_for_status(admin, failing["id"], TERMINAL)

    assert held["status"] == "backordered"
    assert held["backorder"]["lines"] == [{"sku": sku, "quantity": 1}]
    assert (failed["status"], failed["failure_reason"]) == ("failed", "out_of_stock")
    cancel = await admin.post(f"/v1/orders/{waiting['id']}/cancel", json={"reason": "test"})
    assert cancel.status_code == 202, cancel.text
    assert (await wait_for_status(admin, waiting["id"], TERMINAL))["status"] == "cancelled"


async def _warehouse(http: httpx.AsyncClient, priority: int, lat: float, lon: float) -> str:
    wid = unique("wh")
    body = {"id": wid, "name": wid, "country": "DE", "lat": lat, "lon": lon, "priority": priority}
    assert (await http.post("/v1/warehouses", json=body)).status_code == 201
    return wid


async def test_a_channel_routes_by_its_own_strategy_over_the_settings(admin, system):
    assert system.settings.routing == "default:fewest_shipments"
    name = _name("route")
    await admin.post("/v1/channels", json=_push(name, routing="priority"))
    lisbon = await _warehouse(admin, priority=1, lat=38.7, lon=-9.1)
    berlin = await _warehouse(admin, priority=5, lat=52.5, lon=13.4)
    sku = unique("SKU")
    await set_stock(admin, lisbon, sku, 5)
    await set_stock(admin, berlin, sku, 5)

    by_channel = await submit(admin, order_body([(sku, 1)], channel=name))
    by_settings = await submit(admin, order_body([(sku, 1)], channel=_name("plain")))
    first = await wait_for_status(admin, by_channel["id"], TERMINAL)
    second = await wait_for_status(admin, by_settings["id"], TERMINAL)
    events = (await admin.get(f"/v1/orders/{by_channel['id']}/events")).json()["items"]

    assert [s["warehouse_id"] for s in first["shipments"]] == [lisbon]
    assert [s["warehouse_id"] for s in second["shipments"]] == [berlin]  # the nearer
    reserved = next(e for e in events if e["type"] == "stock_reserved")["data"]
    assert reserved["strategy"] == "priority"


async def test_a_pull_channel_added_while_temporal_is_down_is_saved_with_its_schedule_pending(
    system,
):
    from api.app import create_app
    from devtools.ports import free_port
    from tests.conftest import ADMIN_KEY

    nowhere = system.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(nowhere, system.engine, None)  # never connected to Temporal
    name = _name("down")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    ) as http:
        created = await http.post("/v1/channels", json=_pull(name))
        changed = await http.patch(f"/v1/channels/{name}", json={"pull_interval_s": 60})

    assert created.status_code == 201, created.text
    assert created.json()["pull_schedule"] == "pending"
    assert changed.status_code == 200 and changed.json()["pull_schedule"] == "pending"
    saved = await channel_registry.channel_record(system.engine, name)
    assert saved is not None and saved.config.pull_interval_s == 60.0
