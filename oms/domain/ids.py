"""Identifiers derived from business references, so a resubmission maps to the same order."""

from __future__ import annotations

import hashlib


def order_id_for(channel: str, external_id: str) -> str:
    """The order id for a channel's own reference: the same pair always gives the same id."""
    digest = hashlib.sha256(f"{channel}\x1f{external_id}".encode()).hexdigest()
    return digest[:20]


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def shipment_id_for(order_id: str, number: int) -> str:
    return f"{order_id}-{number}"


def shipment_workflow_id(shipment_id: str) -> str:
    return f"shipment-{shipment_id}"


def idempotency_key(order_id: str, step: str) -> str:
    """Key sent to partners for one step of one order (e.g. ``<id>-authorize``)."""
    return f"{order_id}-{step}"
