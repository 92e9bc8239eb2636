"""Demo sales channels for ``oms dev``: one channel per platform against the marketplace
simulator, so orders can be pushed and pulled the moment the system is up.

Made through the API as an admin would (``POST /v1/channels``), only where missing, so a
channel changed by hand stays as it is; the simulator's push targets (it keeps them in
memory) are registered at every start. ``OMS_DEV_SEED=0`` turns all of it off.
"""

from __future__ import annotations

from typing import Any

import httpx

# (name, platform): the push platforms are sent by the simulator, the others pulled.
DEMO_CHANNELS = (
    ("demo-shopify", "shopify"),
    ("demo-woo", "woocommerce"),
    ("demo-tmall", "taobao"),
    ("demo-jd", "jd"),
    ("demo-pdd", "pdd"),
    ("demo-amazon", "amazon"),
)
PUSHED = frozenset({"shopify", "woocommerce"})
# The sandbox platforms' minimum lag behind their clock under ``oms dev`` (the real PDD's is
# three minutes, Amazon's two): a pulled order shows within seconds.
SANDBOX_LAG_S = 5.0
PULL_EVERY_S = 5.0


def channel_body(
    name: str, platform: str, sim_url: str, secret: str, settings: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "platform": platform, "mode": "live"}
    if platform in PUSHED:
        return {**body, "intake": "push", "secret": secret}
    credentials = {
        "base_url": f"{sim_url}/{platform}",
        "app_key": settings.sim_market_app_key,
        "app_secret": settings.sim_market_app_secret,
    }
    if platform == "amazon":
        credentials["marketplace_id"] = "ATVPDKIKX0DER"  # amazon.com
    return {
        **body,
        "intake": "pull",
        "credentials": credentials,
        "pull_interval_s": PULL_EVERY_S,
        "pull_lag_s": SANDBOX_LAG_S,
    }


def ensure_demo_channels(
    api: str, sim_url: str, admin_key: str, secret: str, settings: Any
) -> list[str]:
    """Make the demo channels that are missing and point the simulator's pushes at the
    push ones; the names of the channels ready."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    ready = []
    with httpx.Client(headers=headers, timeout=15) as http:
        for name, platform in DEMO_CHANNELS:
            found = http.get(f"{api}/v1/channels/{name}")
            if found.status_code == 404:
                body = channel_body(name, platform, sim_url, secret, settings)
                made = http.post(f"{api}/v1/channels", json=body)
                if made.status_code != 201:
                    raise RuntimeError(f"demo channel {name}: {made.status_code} {made.text}")
            elif found.status_code != 200:
                raise RuntimeError(f"demo channel {name}: {found.status_code} {found.text}")
            elif not found.json().get("enabled", True):
                continue  # disabled by hand: left alone
            if platform in PUSHED:
                target = {
                    "platform": platform,
                    "url": f"{api}/v1/channels/{name}/webhooks",
                    "secret": secret,
                    "channel": name,
                }
                pushed = http.post(f"{sim_url}/sim/market/push-targets", json=target)
                if pushed.status_code not in (200, 201):
                    raise RuntimeError(f"push target {name}: {pushed.status_code} {pushed.text}")
            ready.append(name)
    return ready


def try_it(sim_url: str, admin_key: str) -> str:
    """A command that makes the simulator sell something on Tmall."""
    body = '{"platform": "taobao", "count": 5, "skus": ["DEMO-TSHIRT", "DEMO-MUG"]}'
    return (
        f"curl -X POST {sim_url}/sim/market/orders -H 'Authorization: Bearer {admin_key}' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )
