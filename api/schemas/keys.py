"""API keys: the bodies that create and rotate one and the answers that show them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StringConstraints

from oms.domain.text import CHANNEL_CORE, Channel, Strict, Text, padded
from oms.keys import MAX_RATE_LIMIT_PER_S, MAX_SCOPES, SCOPE_PATTERN

Role = Literal["channel", "operator", "admin", "partner"]
Scope = Annotated[str, StringConstraints(pattern=SCOPE_PATTERN)]
RateLimit = Annotated[StrictFloat, Field(gt=0, le=MAX_RATE_LIMIT_PER_S, allow_inf_nan=False)]
GRACE_MAX_S = 30 * 86400.0


class KeyCreate(Strict):
    """A key. A channel key without ``channel`` takes its name as the channel, so the name
    must then be a channel name. A partner key needs ``scopes`` (and only it has them):
    ``orders:read``, ``orders:read:<channel>``, ``orders:write:<channel>``, ``stock:sync``,
    ``webhooks:manage``, ``channels:read``, ``reports:read``. ``rate_limit_per_s`` left out:
    the server's default (OMS_KEY_RATE_LIMIT_PER_S)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {
                        "properties": {
                            "role": {"const": "channel"},
                            "channel": {"type": "null"},
                        },
                        "required": ["role"],
                    },
                    "then": {"properties": {"name": {"pattern": padded(CHANNEL_CORE)}}},
                },
                {
                    "if": {"properties": {"role": {"const": "partner"}}, "required": ["role"]},
                    "then": {
                        "required": ["scopes"],
                        "properties": {"scopes": {"type": "array", "minItems": 1}},
                    },
                    "else": {"properties": {"scopes": {"type": "null"}}},
                },
            ]
        }
    )

    name: Text
    role: Role
    channel: Channel | None = None
    scopes: Annotated[list[Scope], Field(max_length=MAX_SCOPES)] | None = None
    rate_limit_per_s: RateLimit | None = None


class KeyRotate(Strict):
    """How long the old secret keeps working (seconds; default a day, 0: not at all)."""

    grace_s: Annotated[StrictFloat, Field(ge=0, le=GRACE_MAX_S, allow_inf_nan=False)] = 86400.0


class KeyCreated(BaseModel):
    """A new key; ``key`` is the secret, shown this once."""

    id: int
    name: str
    role: Role
    channel: str | None
    key: str
    scopes: list[str] | None = None
    rate_limit_per_s: float | None = None


class KeyRotated(KeyCreated):
    """The new key, and until when the old one (``rotated_from``) is still taken."""

    rotated_from: int
    old_key_expires_at: str


class KeyInfo(BaseModel):
    id: int
    name: str
    role: Role
    channel: str | None
    prefix: str
    created_at: str
    revoked_at: str | None
    scopes: list[str] | None = None
    rate_limit_per_s: float | None = Field(
        default=None, description="requests a second; null: the server's default"
    )
    expires_at: str | None = None
    last_used_at: str | None = Field(default=None, description="recorded at most once a minute")
    rotated_from: int | None = None


class KeyList(BaseModel):
    items: list[KeyInfo]
    next_cursor: str | None
