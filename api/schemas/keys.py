"""API keys: the body that creates one and the answers that show them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from oms.domain.text import CHANNEL_CORE, Channel, Strict, Text, padded


class KeyCreate(Strict):
    """A key. A channel key without ``channel`` takes its name as the channel, so the name
    must then be a channel name."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "properties": {"role": {"const": "channel"}, "channel": {"type": "null"}},
                "required": ["role"],
            },
            "then": {"properties": {"name": {"pattern": padded(CHANNEL_CORE)}}},
        }
    )

    name: Text
    role: Literal["channel", "operator", "admin"]
    channel: Channel | None = None


class KeyCreated(BaseModel):
    """A new key; ``key`` is the secret, shown this once."""

    id: int
    name: str
    role: Literal["channel", "operator", "admin"]
    channel: str | None
    key: str


class KeyInfo(BaseModel):
    id: int
    name: str
    role: Literal["channel", "operator", "admin"]
    channel: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


class KeyList(BaseModel):
    items: list[KeyInfo]
    next_cursor: str | None
