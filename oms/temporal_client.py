"""Connecting to Temporal, with the search attributes the order workflows need."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from oms.codec import data_converter
from oms.domain.search_attributes import ALL_KEYS
from oms.settings import Settings


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client whose payloads are sealed with the settings' payload keys (oms.codec);
    ``runtime``: the SDK runtime it runs on (one that serves metrics), else the default."""
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.payload_keys),
        runtime=runtime,
    )


def metrics_address(address: str, offset: int = 0) -> str:
    """``host:port`` moved ``offset`` ports up: process i of several serves on port + i."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) + offset < 65536:
        raise ValueError(f"a metrics address is host:port, not {address!r}")
    return f"{host}:{int(port) + offset}"


def metrics_runtime(bind_address: str) -> Runtime:
    """An SDK runtime whose own HTTP server serves the Temporal SDK's metrics at
    ``http://<bind_address>/metrics`` (docs/metrics.md). Durations are in seconds, like
    the API's; counter names have no ``_total`` (the SDK's documented names). Raises
    ValueError when the address cannot be bound."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=bind_address, durations_as_seconds=True),
            global_tags={"service": "oms-worker"},
        )
    )


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Register the search attributes a server lacks, each with its type (idempotent)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        # The SDK's and the API's enums share their numbers.
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL_KEYS
        if key.name not in existing.custom_attributes
    }
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as exc:
        if "already" not in str(exc).lower():
            raise
