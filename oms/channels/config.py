"""A configured sales channel, as the intake, the poller and the feedback to the platform
read it. Stored by ``oms.store.channels``; secrets are kept sealed there and are open only
in this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Intake(StrEnum):
    PUSH = "push"
    PULL = "pull"
    BOTH = "both"


class Mode(StrEnum):
    LIVE = "live"
    # The OMS takes the channel's orders and decides everything (holds, routing, split)
    # but charges, reserves and dispatches nothing; each decision is recorded.
    SHADOW = "shadow"


@dataclass
class ChannelConfig:
    name: str
    platform: str  # oms.channels.canonical.PLATFORMS
    intake: str = Intake.PUSH
    mode: str = Mode.LIVE
    # The platform's webhook signing secret (Shopify app secret, WooCommerce webhook secret,
    # a native channel's shared secret).
    secret: str | None = field(default=None, repr=False)  # never in a log line
    # What a pull (and the feedback to the platform) needs: base_url, app_key, app_secret,
    # seller_id, access_token ... by platform.
    credentials: dict[str, Any] = field(default_factory=dict, repr=False)
    # Per channel, falling back to the settings OMS_ROUTING / OMS_SHORTAGE / OMS_SPLIT:
    # a routing strategy name, "fail" | "backorder", and whether split shipments are allowed.
    routing: str | None = None
    shortage: str | None = None
    split: bool | None = None
    # How long an unpaid order waits for its payment before it is cancelled.
    payment_timeout_s: float = 86400.0
    # Pull: seconds between polls, and how far behind the platform's clock a window ends
    # (a real platform refuses a window closer to its clock than its own minimum:
    # oms.channels.pull_rules; a sandbox platform's minimum is a setting).
    pull_interval_s: float = 30.0
    pull_lag_s: float = 180.0
    enabled: bool = True
    # A shadow channel's pilot: orders shipping to these countries (ISO 3166-1 alpha-2)
    # are handled live, the rest stay in shadow (oms.channels.cutover).
    live_countries: tuple[str, ...] = ()

    @property
    def pulls(self) -> bool:
        return self.intake in (Intake.PULL, Intake.BOTH)

    @property
    def pushes(self) -> bool:
        return self.intake in (Intake.PUSH, Intake.BOTH)
