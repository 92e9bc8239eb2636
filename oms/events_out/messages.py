"""What crosses Temporal for events out: the endpoint workflow's input and its activity's
request and result. Ids and counts only: no secret, no body."""

from __future__ import annotations

from dataclasses import dataclass

from oms.domain.annotations import resolve_annotations


@dataclass
class EndpointRun:
    """The ``webhook.endpoint`` workflow's input; ``loops`` carried over continue-as-new."""

    endpoint_id: str
    loops: int = 0


@dataclass
class DeliverDue:
    endpoint_id: str


@dataclass
class DeliverDueResult:
    """What one ``deliver_due`` run did; ``stop`` when the endpoint is disabled or gone."""

    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    stop: bool = False


resolve_annotations(globals())
