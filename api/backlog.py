"""The backlog limit: while the work waiting is at ``OMS_BACKLOG_LIMIT`` or over, a new
order is refused with 429 ``backlog-full`` and a ``Retry-After`` (docs/peak-days.md).

The work waiting is the larger of two counts, sampled every ``OMS_BACKLOG_CHECK_S`` by a
task of each API process (never on the request path: a POST reads the last sample):

- Temporal's backlog on the task queue (``DescribeTaskQueue`` with ``report_stats``,
  workflow and activity task queues added up): tasks that no worker has taken. It grows as
  soon as the workers are saturated, whatever the tasks are for (new orders, the next
  steps of orders in flight, pulls), and comes with the rate at which the workers take
  tasks, which gives the ``Retry-After``.
- the orders accepted whose workflow has recorded no step yet (status ``received``,
  ``last_seq`` 0; a capped count over an index). A worker takes up to its slot count of
  tasks into its own memory, where Temporal no longer counts them; this count still sees
  the orders behind them, and it sees orders recorded while Temporal was down.

A sample older than three periods (or than five seconds), or one that could not be read,
refuses nothing: when Temporal does not answer the start gives its own 503, and a
sampler that stopped must not turn into a closed door. An idempotent replay of an order
already accepted is never refused (``api.intake`` asks only for a new order).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.errors import Problem
from oms.backlog import Sample, read_sample
from oms.logging import get_logger
from oms.settings import Settings

log = get_logger(__name__)

# Retry-After bounds, seconds: at least one (a client must wait at all), at most a minute
# (an estimate further out is no better than asking again in a minute).
RETRY_MIN_S = 1
RETRY_MAX_S = 60
# A sample is trusted this many periods (and at least STALE_MIN_S seconds).
STALE_PERIODS = 3
STALE_MIN_S = 5.0


def retry_after_s(sample: Sample, limit: int) -> int:
    """Seconds until the backlog is likely under the limit again: what is over it (and a
    tenth of the limit, so that the retries do not fill it again at once) over the rate at
    which the workers take tasks. Without a rate (nothing taken: no worker), the most."""
    backlog = sample.backlog or 0
    stats = sample.temporal
    if stats is None or stats.dispatch_per_s <= 0:
        return RETRY_MAX_S
    excess = backlog - limit + max(1, limit // 10)
    seconds = math.ceil(max(excess, 1) / stats.dispatch_per_s)
    return max(RETRY_MIN_S, min(RETRY_MAX_S, seconds))


class BacklogFull(Exception):
    """The backlog is at its limit: the problem to answer, and where the refusal came from."""

    def __init__(self, retry_after_s: int, backlog: int, limit: int) -> None:
        super().__init__(f"backlog {backlog} >= limit {limit}")
        self.retry_after_s = retry_after_s
        self.backlog = backlog
        self.limit = limit

    def problem(self) -> Problem:
        return Problem(
            429,
            f"the system is working through a backlog of {self.backlog} (its limit is "
            f"{self.limit}); nothing was recorded: send the order again after Retry-After "
            "seconds",
            kind="backlog-full",
            title="Backlog full",
            headers={"Retry-After": str(self.retry_after_s)},
            backlog=self.backlog,
            limit=self.limit,
        )


class BacklogSampler:
    """The last sample, refreshed by :meth:`run`; :meth:`admit` answers from it alone."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        client: Callable[[], Awaitable[Client | None]],
    ) -> None:
        self.settings = settings
        self.limit = settings.backlog_limit
        self.period_s = settings.backlog_check_s
        self._engine = engine
        self._client = client
        self.sample: Sample | None = None
        self.refused: dict[str, int] = {}
        self._warned_at = -math.inf
        self._stopping = False

    @property
    def stale_after_s(self) -> float:
        return max(STALE_PERIODS * self.period_s, STALE_MIN_S)

    def fresh(self, now: float | None = None) -> Sample | None:
        sample = self.sample
        if sample is None or sample.backlog is None:
            return None
        now = time.monotonic() if now is None else now
        return sample if now - sample.at <= self.stale_after_s else None

    def admit(self, intake: str) -> None:
        """Raise :class:`BacklogFull` for a new order while the backlog is full; count it
        under ``intake`` (the refusals' metric label)."""
        if self.limit <= 0:
            return
        sample = self.fresh()
        if sample is None or (sample.backlog or 0) < self.limit:
            return
        self.refused[intake] = self.refused.get(intake, 0) + 1
        raise BacklogFull(retry_after_s(sample, self.limit), sample.backlog or 0, self.limit)

    async def read(self) -> Sample:
        """One sample now: each source that answers within its timeout."""
        client: Client | None = None
        errors = []
        try:
            client = await self._client()
        except Exception as exc:  # down, slow, refused: the Temporal part is unknown
            errors.append(f"temporal: {str(exc)[:120] or type(exc).__name__}")
        sample, more = await read_sample(self._engine, client, self.settings)
        errors += more
        if errors and time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning("backlog_sample_incomplete", errors=errors)
        return sample

    async def run(self) -> None:
        """Sample every period until :meth:`stop` (or a cancellation)."""
        self._stopping = False
        while not self._stopping:
            started = time.monotonic()
            try:
                self.sample = await self.read()
            except Exception as exc:  # never let the loop die: a stale sample refuses nothing
                log.warning("backlog_sample_failed", error=str(exc)[:200])
            await asyncio.sleep(max(0.05, self.period_s - (time.monotonic() - started)))

    async def stop(self, task: asyncio.Task[None], wait_s: float = 5.0) -> None:
        """End :meth:`run`'s ``task`` and wait for it at most ``wait_s``. The flag ends the
        loop even if its cancellation was lost (Python 3.11's ``asyncio.wait_for`` can
        return a result that came in with the cancel, which the loop would outlive): an
        API's shutdown never waits on the sampler for ever."""
        self._stopping = True
        task.cancel()
        await asyncio.wait({task}, timeout=wait_s)
        if not task.done():
            log.warning("backlog_sampler_not_stopped", waited_s=wait_s)
