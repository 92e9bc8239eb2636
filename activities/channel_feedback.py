"""Our status back to the sales platform: a shipment that left is reported to the order's
platform (Shopify fulfillment, Taobao/JD/PDD "seller ship", Amazon shipment confirmation)
with its tracking number and carrier code.

Idempotent as far as the platforms allow: a platform that already has the shipment (a
retry after an answer that was lost) answers with a refusal naming it shipped, which is
taken as done. A platform that is down is retried by the workflow's retry policy; one that
refuses is a non-retryable ``PlatformRefused`` the order turns into an alert.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from oms.adapters.marketplace import PlatformRefused, PlatformUnavailable, client_for
from oms.channel_registry import load_channel
from oms.channels.registry import adapter
from oms.channels.shipped import shipped_lines
from oms.contract import ChannelSteps, ErrorType
from oms.domain.messages import ShipmentReport
from oms.logging import get_logger
from oms.store import orders

log = get_logger(__name__)
# Words a platform's refusal uses when the order is marked shipped already.
_ALREADY = ("already", "shipped", "consigned", "fulfilled")


class ChannelFeedbackActivities(ChannelSteps):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn
    async def report_shipment(self, report: ShipmentReport) -> None:
        channel = await load_channel(self._engine, report.channel)
        if channel is None or channel.platform == "native":
            log.info("shipment_not_reported", order_id=report.order_id, channel=report.channel)
            return
        row = await orders.row(self._engine, report.order_id)
        ordered = list(row.view.get("lines", [])) if row is not None else []
        request = adapter(channel.platform).ship_request(
            report.external_id,
            report.tracking_number or "",
            report.carrier or "",
            shipped_lines(report.lines, ordered),
            credentials=channel.credentials,
        )
        client = client_for(channel.platform, channel.credentials)
        try:
            answer = await client.ship(request)
        except PlatformUnavailable as exc:
            raise ApplicationError(
                f"{channel.platform} unavailable: {exc}", type="PlatformUnavailable"
            ) from exc
        except PlatformRefused as exc:
            text = f"{exc.code}: {exc.message}"
            if any(word in text.lower() for word in _ALREADY):
                log.info("shipment_reported_before", order_id=report.order_id, answer=text)
                return
            raise ApplicationError(
                f"{channel.platform} refused the shipment: {text}",
                type=ErrorType.PLATFORM_REFUSED,
                non_retryable=True,
            ) from exc
        finally:
            await client.aclose()
        log.info(
            "shipment_reported",
            order_id=report.order_id,
            shipment_id=report.shipment_id,
            platform=channel.platform,
            answer=str(answer)[:200],
        )
