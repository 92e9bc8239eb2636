"""Connecting to Temporal, with the search attributes the order workflows need."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import RPCError

from oms.codec import data_converter
from oms.domain.search_attributes import ALL_KEYS
from oms.settings import Settings


async def connect(settings: Settings) -> Client:
    """A client whose payloads are sealed with the settings' payload keys (oms.codec)."""
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.payload_keys),
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
