"""Sales channels: the bodies that add and change one, and the answer that shows it.

What JSON Schema can say about a channel is said here, so that a body the document allows
is one the server takes: the intake a platform can have, the secret a push channel needs
and the ``base_url`` a pull channel needs. What it cannot say (a change that would leave
the stored channel unservable, such as a switch to an intake its platform lacks) the
server refuses with 422 ``channel-invalid``, naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StringConstraints

from oms.channel_registry import MAX_SECONDS, MIN_PULL_INTERVAL_S
from oms.channels.canonical import PLATFORMS, PULL_PLATFORMS, PUSH_PLATFORMS
from oms.domain.text import Strict

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
CREDENTIAL_KEY = r"^[a-z][a-z0-9_]{0,63}$"

ChannelName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Platform = Literal["native", "shopify", "woocommerce", "taobao", "jd", "pdd", "amazon"]
IntakeName = Literal["push", "pull", "both"]
ModeName = Literal["live", "shadow"]
Routing = Literal["fewest_shipments", "nearest", "priority", "fastest", "cheapest", "balanced"]
Shortage = Literal["fail", "backorder"]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=500)]
CredentialValue = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
# Only the keys the pattern allows (the schema says so too: no other property).
_ONLY_NAMED = {"additionalProperties": False}
Credentials = Annotated[
    dict[Annotated[str, StringConstraints(pattern=CREDENTIAL_KEY)], CredentialValue],
    Field(max_length=32, json_schema_extra=_ONLY_NAMED),
]
# In a change, a credential given null is removed.
CredentialChanges = Annotated[
    dict[Annotated[str, StringConstraints(pattern=CREDENTIAL_KEY)], CredentialValue | None],
    Field(max_length=32, json_schema_extra=_ONLY_NAMED),
]
Seconds = Annotated[StrictFloat, Field(ge=1, le=MAX_SECONDS, allow_inf_nan=False)]
PullInterval = Annotated[
    StrictFloat, Field(ge=MIN_PULL_INTERVAL_S, le=MAX_SECONDS, allow_inf_nan=False)
]
Lag = Annotated[StrictFloat, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
# A pilot's countries: ISO 3166-1 alpha-2 codes (an unassigned one is ``channel-invalid``).
Countries = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]], Field(max_length=250)
]

assert set(PLATFORMS) == set(Platform.__args__)  # type: ignore[attr-defined]

_PUSH = sorted(PUSH_PLATFORMS - PULL_PLATFORMS)
_PULL = sorted(PULL_PLATFORMS - PUSH_PLATFORMS)
# The rules of oms.channel_registry.validate that JSON Schema can state.
_FITS: dict[str, Any] = {
    "allOf": [
        {
            "if": {"properties": {"platform": {"enum": _PUSH}}, "required": ["platform"]},
            "then": {
                "properties": {"intake": {"const": "push"}, "secret": {"type": "string"}},
                "required": ["secret"],
            },
        },
        {
            "if": {"properties": {"platform": {"enum": _PULL}}, "required": ["platform"]},
            "then": {
                "properties": {
                    "intake": {"const": "pull"},
                    "credentials": {"type": "object", "required": ["base_url"]},
                },
                "required": ["credentials"],
            },
        },
        {
            # Amazon's shipment confirmations name the marketplace the order was sold on.
            "if": {"properties": {"platform": {"const": "amazon"}}, "required": ["platform"]},
            "then": {
                "properties": {
                    "credentials": {"type": "object", "required": ["base_url", "marketplace_id"]}
                },
            },
        },
    ]
}


class ChannelCreate(Strict):
    """A channel. A push channel (native, shopify, woocommerce) needs ``secret``, the
    secret its webhooks are signed with; a pull channel (taobao, jd, pdd, amazon) needs
    ``credentials`` with ``base_url``. ``routing``, ``shortage`` and ``split`` left out
    follow the settings (OMS_ROUTING, OMS_SHORTAGE, OMS_SPLIT)."""

    model_config = ConfigDict(json_schema_extra=_FITS)

    name: ChannelName
    platform: Platform
    intake: IntakeName
    mode: ModeName = "live"
    secret: Secret | None = None
    credentials: Credentials | None = None
    routing: Routing | None = None
    shortage: Shortage | None = None
    split: StrictBool | None = None
    payment_timeout_s: Seconds = 86400.0
    pull_interval_s: PullInterval = 30.0
    pull_lag_s: Lag = 180.0


class ChannelChange(Strict):
    """What to change; a field left out (or given null) stays as it is, but ``routing``,
    ``shortage`` or ``split`` given null follow the settings again. ``credentials`` are
    merged into the
    stored ones (a key given null is removed). The platform is fixed once the channel
    exists. A change that would leave the channel unservable (a push channel without a
    secret, an intake its platform lacks) is refused (``channel-invalid``)."""

    intake: IntakeName | None = None
    mode: ModeName | None = None
    secret: Secret | None = None
    credentials: CredentialChanges | None = None
    routing: Routing | None = None
    shortage: Shortage | None = None
    split: StrictBool | None = None
    payment_timeout_s: Seconds | None = None
    pull_interval_s: PullInterval | None = None
    pull_lag_s: Lag | None = None
    enabled: StrictBool | None = None
    live_countries: Countries | None = Field(
        default=None,
        description="a shadow channel's pilot: orders shipping to these countries are "
        "handled live from the moment of the change ([] ends the pilot); a switch like a "
        "change of mode (mode_changed_at). A switch of the whole channel to live ends it.",
    )


class ChannelInfo(BaseModel):
    """A channel as the API shows it: its secret and credentials never, only whether a
    secret is set and the names of the credentials."""

    name: str
    platform: Platform
    intake: IntakeName
    mode: ModeName
    enabled: bool
    secret_set: bool
    credential_keys: list[str]
    routing: Routing | None
    shortage: Shortage | None
    split: bool | None
    payment_timeout_s: float
    pull_interval_s: float
    pull_lag_s: float
    webhook_path: str | None = Field(
        description="where the platform sends its webhooks (push channels)"
    )
    live_countries: list[str] = Field(
        description="a shadow channel's pilot: the shipping countries handled live"
    )
    mode_changed_at: str | None = Field(
        description="the last switch of mode or pilot: orders taken from this instant on "
        "got the mode the channel has now, every earlier one the mode before"
    )
    mode_changed_by: str | None
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    pull_status: dict[str, Any] | None = Field(
        default=None, description="the poller's view of a pull channel, when it reports one"
    )
    pull_schedule: Literal["ensured", "removed", "pending"] | None = Field(
        default=None,
        description="after a change of a pull channel: its schedule was made (or removed), "
        "or is pending because Temporal did not answer (the worker makes it at its next "
        "start)",
    )


class ChannelList(BaseModel):
    items: list[ChannelInfo]
    next_cursor: str | None
