"""``deliver_due``: send one endpoint's due deliveries for about a minute, then return.

Each pass claims what is due (``oms.store.outbox.claim``: a lease, ``SKIP LOCKED``, and per
order only its lowest open seq), checks the endpoint's address (``oms.events_out.ssrf``,
once per pass) and sends up to ``OMS_WEBHOOK_CONCURRENCY`` requests at once, each signed
per Standard Webhooks with every secret in force, 15 s timeout, no redirects. Every attempt
is recorded with its answer and the next attempt's time from the published schedule
(``Retry-After`` of a 429 or 503 lengthens the wait). A 410 disables the endpoint; a
delivery out of attempts is ``exhausted``; an endpoint failing without a single success for
``OMS_WEBHOOK_DISABLE_AFTER_S`` is disabled; each of those raises an alert (one open per
endpoint and kind).

Between passes it waits for ``NOTIFY oms_outbox, <endpoint id>`` (the outbox triggers send
it at commit), or the next retry's time, whichever comes first, heartbeating.

Idempotent: every fact is in PostgreSQL. A run that dies mid-send leaves its claims to
expire; the next run sends them again with the same ``webhook-id``, which receivers dedupe.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from oms.alerts import AlertStore
from oms.contract import WebhookSteps
from oms.domain.messages import AlertRequest
from oms.events_out import catalogue, signing
from oms.events_out.messages import DeliverDue, DeliverDueResult
from oms.events_out.schedule import next_wait, parse_retry_after
from oms.events_out.sealing import open_secret
from oms.events_out.ssrf import AddressNotAllowed, Pinned, check_url
from oms.logging import get_logger
from oms.store import outbox, webhook_endpoints

log = get_logger(__name__)

CHANNEL = "oms_outbox"
TIMEOUT_S = 15.0
LEASE_S = 120.0
IDLE_HEARTBEAT_S = 5.0
USER_AGENT = "oms-webhooks/1"


@dataclass(frozen=True)
class DeliveryConfig:
    payload_keys: str | None
    allow_private: bool
    schedule: tuple[float, ...]
    disable_after_s: float
    loopback_only: bool = False
    run_s: float = 60.0
    concurrency: int = 16


class OutboxListener:
    """One LISTEN connection per worker process, shared by every endpoint's run: a
    notification sets that endpoint's event. While it is not connected, runs poll."""

    def __init__(self, dsn: Callable[[], str]) -> None:
        self._dsn = dsn  # read when first listening: the worker's tests build it without one
        self._events: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def event_for(self, endpoint_id: str) -> asyncio.Event:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return self._events.setdefault(endpoint_id, asyncio.Event())

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await asyncpg.connect(self._dsn())
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("outbox_listener_disconnected", error=str(exc)[:200])
                await asyncio.sleep(delay)
                delay = min(10.0, delay * 2)
                continue
            try:
                await conn.add_listener(CHANNEL, self._notified)
                self.connected = True
                delay = 0.5
                for event in self._events.values():  # anything missed while away
                    event.set()
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await lost.wait()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox_listener_disconnected", error=str(exc)[:200])
            finally:
                self.connected = False
                if not conn.is_closed():
                    await conn.close()

    def _notified(self, _conn: object, _pid: int, _channel: str, endpoint_id: str) -> None:
        event = self._events.get(endpoint_id)
        if event is not None:
            event.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class WebhookDeliveryActivities(WebhookSteps):
    def __init__(
        self,
        engine: AsyncEngine,
        config: DeliveryConfig,
        alerts: AlertStore,
        listener: OutboxListener,
    ) -> None:
        self._engine = engine
        self._config = config
        self._alerts = alerts
        self._listener = listener
        self._http: httpx.AsyncClient | None = None
        self._rng = random.Random()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(
                timeout=TIMEOUT_S,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=self._config.concurrency * 4),
            )
        return self._http

    @activity.defn
    async def deliver_due(self, req: DeliverDue) -> DeliverDueResult:
        config = self._config
        deadline = time.monotonic() + config.run_s
        result = DeliverDueResult()
        wake = self._listener.event_for(req.endpoint_id)
        while True:
            activity.heartbeat()
            wake.clear()
            endpoint = await webhook_endpoints.one(self._engine, req.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                result.stop = True
                return result
            batch = await outbox.claim(
                self._engine, req.endpoint_id, config.concurrency * 4, LEASE_S
            )
            if batch:
                if not await self._send_batch(endpoint, batch, result):
                    result.stop = True
                    return result
                if time.monotonic() >= deadline:
                    return result
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return result
            due = await outbox.next_due(self._engine, req.endpoint_id)
            wait = min(left, IDLE_HEARTBEAT_S if self._listener.connected else 0.5)
            if due is not None:
                wait = min(wait, max(0.0, (due - datetime.now(UTC)).total_seconds()))
            try:  # not wait_for: on 3.11 it can lose a cancel that meets the wake-up
                async with asyncio.timeout(wait):
                    await wake.wait()
            except TimeoutError:
                pass

    # --- one pass ----------------------------------------------------------------------

    async def _send_batch(self, endpoint: Any, batch: list[Any], result: DeliverDueResult) -> bool:
        """Send and record a claimed batch; False when the endpoint was disabled by it."""
        config = self._config
        secrets = self._secrets(endpoint)
        try:
            pinned: Pinned | str = await check_url(
                endpoint.url, config.allow_private, config.loopback_only
            )
        except AddressNotAllowed as exc:
            pinned = str(exc)
        gate = asyncio.Semaphore(config.concurrency)

        async def one(row: Any) -> dict[str, Any]:
            async with gate:
                outcome = await self._attempt(row, pinned, secrets)
                activity.heartbeat()
                return outcome

        outcomes = await asyncio.gather(*(one(row) for row in batch))
        await outbox.record(self._engine, outcomes)
        delivered = sum(1 for o in outcomes if o["status"] == "delivered")
        result.attempted += len(outcomes)
        result.delivered += delivered
        result.failed += len(outcomes) - delivered
        now = datetime.now(UTC)
        endpoint_id = endpoint.id
        if any(o["code"] == 410 for o in outcomes):
            await self._disable(
                endpoint_id, "the endpoint answered 410 Gone", "webhook_endpoint_gone"
            )
            return False
        exhausted = [o for o in outcomes if o["status"] == "exhausted"]
        if exhausted:
            await self._alert(
                endpoint_id,
                "webhook_delivery_exhausted",
                {"deliveries": [o["id"] for o in exhausted][:20], "error": exhausted[0]["error"]},
            )
        since = await webhook_endpoints.note_outcome(self._engine, endpoint_id, delivered > 0, now)
        if since is not None and (now - since).total_seconds() >= config.disable_after_s:
            await self._disable(
                endpoint_id,
                f"every attempt failed since {since.isoformat()}",
                "webhook_endpoint_failing",
            )
            return False
        return True

    def _secrets(self, endpoint: Any) -> list[str]:
        keys = self._config.payload_keys
        found = [open_secret(endpoint.secret, keys)]
        until = endpoint.previous_secret_until
        if endpoint.previous_secret and until is not None and until > datetime.now(UTC):
            found.append(open_secret(endpoint.previous_secret, keys))
        return found

    async def _attempt(self, row: Any, pinned: Pinned | str, secrets: list[str]) -> dict[str, Any]:
        at = datetime.now(UTC)
        started = time.monotonic()
        code: int | None = None
        error: str | None = None
        retry_after: float | None = None
        if isinstance(pinned, str):
            error = pinned
        else:
            body = json.dumps(
                catalogue.body(row.type, row.occurred_at.isoformat(), row.data),
                separators=(",", ":"),
            ).encode()
            headers = signing.headers(secrets, row.event_id, int(at.timestamp()), body)
            headers["host"] = pinned.host_header
            headers["user-agent"] = USER_AGENT
            extensions = {"sni_hostname": pinned.sni_hostname} if pinned.sni_hostname else None
            try:
                response = await self._client().post(
                    pinned.url, content=body, headers=headers, extensions=extensions
                )
                code = response.status_code
                if not 200 <= code < 300:
                    error = f"answered {code}"
                    if code in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("retry-after"))
            except httpx.TimeoutException:
                error = f"no answer within {TIMEOUT_S:g} s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
        duration = int((time.monotonic() - started) * 1000)
        if error is None:
            return _outcome(row, "delivered", code, duration, None, None, at)
        wait = next_wait(row.attempts + 1, self._config.schedule, retry_after, self._rng)
        if wait is None:
            return _outcome(row, "exhausted", code, duration, error, None, at)
        next_at = datetime.now(UTC) + timedelta(seconds=wait)
        return _outcome(row, "failed", code, duration, error, next_at, at)

    async def _disable(self, endpoint_id: str, reason: str, kind: str) -> None:
        if await webhook_endpoints.disable(self._engine, endpoint_id, reason):
            log.warning("webhook_endpoint_disabled", endpoint_id=endpoint_id, reason=reason)
            await self._alert(endpoint_id, kind, {"reason": reason})

    async def _alert(self, endpoint_id: str, kind: str, detail: dict[str, Any]) -> None:
        try:
            await self._alerts.raise_alert(
                AlertRequest(
                    "", kind, {"subject": endpoint_id, "endpoint_id": endpoint_id, **detail}
                )
            )
        except Exception as exc:  # the deliveries matter more than their alert
            log.warning("webhook_alert_failed", endpoint_id=endpoint_id, error=str(exc)[:200])


def _outcome(
    row: Any,
    status: str,
    code: int | None,
    duration: int,
    error: str | None,
    next_at: datetime | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": status,
        "code": code,
        "duration": duration,
        "error": error,
        "next_at": next_at,
        "at": at,
    }
