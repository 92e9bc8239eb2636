"""One settings object for every process, read from the environment.

Variables are prefixed ``OMS_`` except the two that point at external servers,
``DATABASE_URL`` and ``TEMPORAL_ADDRESS``, which keep their conventional names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms.domain.holds import HoldPolicy

TASK_QUEUE = "oms-orders"


class SettingsError(RuntimeError):
    """A setting is missing or malformed: reported as a message, not a traceback."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore")

    env: str = "development"
    home: Path = Path(".oms")
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    # The event loop of the worker, the API, the simulators and the bench (oms.loop):
    # "uvloop" or "asyncio".
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "OMS_DATABASE_URL")
    )
    # PostgreSQL behind a connection pooler in transaction mode (PgBouncer's pool_mode =
    # transaction): "transaction" makes every statement run inside a transaction and
    # asyncpg prepare statements under names no two connections share, with its statement
    # caches off (docs/deployment.md, "A connection pooler").
    database_pooler: Literal["none", "transaction"] = "none"
    # LISTEN needs a connection of its own for as long as it listens, which a pooler in
    # transaction mode does not give: the direct URL for it (default: DATABASE_URL).
    listen_database_url: str | None = None
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "OMS_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = "default"
    task_queue: str = TASK_QUEUE

    host: str = "127.0.0.1"
    api_port: int = 8000
    sim_port: int = 8100
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # Where operators open the Temporal Web UI (links in /v1/ops/stuck).
    temporal_ui_url: str | None = None

    admin_api_key: str | None = None
    # Requests a second per API key without a limit of its own (bursts of twice as many),
    # counted in each API process; 0: no limit. The admin key above is never limited.
    key_rate_limit_per_s: float = 50.0
    # Keys that seal workflow payloads (oms.codec): "id:base64key[,id:base64key...]", the
    # first one active. oms dev makes one and keeps it in .oms/secrets.json.
    payload_keys: str | None = None
    # Browser origins (the Temporal Web UI) allowed to call the API's codec endpoint.
    codec_origins: str = "http://127.0.0.1:8233,http://localhost:8233"
    # How long a reserved order waits before release to the warehouses (cancel window).
    release_delay_s: float = 0.0
    # How long an order's authorization keeps retrying a gateway that is down or silent
    # before the order fails as payment_unavailable (and any authorization is voided).
    authorize_limit_s: float = 3600.0
    # The worker starts orders recorded but never started (Temporal down at intake).
    recovery_interval_s: float = 30.0
    recovery_age_s: float = 30.0
    max_body_bytes: int = 1_048_576
    # Peak days (docs/peak-days.md): a new order is refused (429 backlog-full) while the
    # work waiting is at or over backlog_limit: the larger of Temporal's task backlog on the
    # task queue (workflow and activity tasks no worker has taken) and the orders accepted
    # whose workflow has recorded no step. 0: no limit. Each API process samples it every
    # backlog_check_s, off the request path.
    backlog_limit: int = Field(default=5000, ge=0)
    backlog_check_s: float = Field(default=1.0, gt=0, le=60)
    # Returns (docs/returns.md): asked within this many seconds of delivery, a return is
    # approved without an operator (0: every return waits for one); per channel
    # "webshop:1209600,marketplace:0" overrides it. Money back for a return includes its
    # share of the order's shipping when this is on.
    return_window_s: float = Field(default=2_592_000.0, ge=0)
    return_windows: str = ""
    return_refund_shipping: bool = False
    # An approved return's parcel is awaited this long; what the warehouse has not counted
    # by then is counted missing (0: wait for ever).
    return_receive_timeout_s: float = Field(default=2_592_000.0, ge=0)
    # Metrics (docs/metrics.md). The API's /metrics answers anyone who reaches it unless a
    # token is set: then only "Authorization: Bearer <token>". The business gauges are read
    # from PostgreSQL at most once per metrics_cache_s, however often it is scraped.
    metrics_token: str | None = None
    metrics_cache_s: float = Field(default=5.0, ge=0, le=300)
    # The worker's Temporal SDK metrics, served by the SDK on "host:port" (None: off);
    # process i of ``oms worker --processes N`` serves on port + i.
    worker_metrics_address: str | None = None
    # The console's CSV import of stock levels (POST /console/stock/imports) takes files up
    # to this size (some 1.5 million rows), the one path allowed more than max_body_bytes.
    console_import_max_bytes: int = 64 * 1_048_576

    # Whether the worker runs workflow code in the Temporal sandbox. Off by default: the
    # sandbox costs a third of the worker's CPU (a fresh import of the workflow module for
    # every run, a proxy around every activation). The test suite runs every workflow in
    # it, and the replay tests replay every recorded history in it, so code that reads the
    # clock, draws random numbers or does I/O in a workflow fails there (docs/performance.md).
    workflow_sandbox: bool = False

    # Routing per sales channel (oms.domain.routing): "channel:strategy,...", strategies
    # fewest_shipments (the default), nearest, priority, fastest, cheapest, balanced.
    routing: str = "default:fewest_shipments"
    # The learned strategies (docs/intelligence-routing.md): what ``balanced`` weighs a day
    # of delivery at, in the cost table's money; the shipments a learned delivery time
    # needs before it is used (else the next coarser one, then the distance); the days
    # of orders a refresh learns from; how often the worker refreshes (0: only
    # ``oms routing learn``).
    routing_day_value: float = Field(default=2.0, ge=0)
    routing_min_samples: int = Field(default=5, ge=1)
    routing_learn_days: float = Field(default=90.0, gt=0)
    routing_learn_interval_s: float = Field(default=3600.0, ge=0)
    # Shortage per sales channel: "channel:fail|backorder,...": fail fast (out_of_stock)
    # or wait for stock as a backorder. Split: "channel:on|off,..." (or just on/off), whether
    # what is in stock ships now and the rest waits, or the order waits whole.
    shortage: str = "default:fail"
    split: str = "default:on"
    # A backorder gives up after this long (cancelled, payment voided: backorder_expired).
    backorder_timeout_s: float = 604800.0
    # A backordered order also looks for stock this often, in case a wake-up was missed.
    backorder_recheck_s: float = 3600.0
    # Pull sync: every this many seconds a Temporal Schedule pulls stock levels from the WMS
    # and applies them like POST /v1/stock/sync (0: no schedule).
    wms_sync_interval_s: float = 0.0
    # Pull channels (docs/pull-channels.md): how far back a channel's first pull reads (at
    # most its platform's horizon); how long its platform may fail before an alert
    # (channel_pull_failing); how much one run reads at most (windows, seconds) before it
    # leaves the rest to the next; how many orders of a page are taken at once.
    pull_lookback_s: float = 86400.0
    pull_alert_after_s: float = 300.0
    pull_max_windows: int = 20
    pull_run_s: float = 60.0
    pull_concurrency: int = 8

    # Holds (oms.domain.holds): per-currency thresholds "CUR:amount,...", a currency not
    # listed is never held for value; velocity = distinct customers to one address.
    hold_high_value: str = "EUR:1000,USD:1000,CNY:8000"
    hold_new_customer_value: str = "EUR:500,USD:500,CNY:4000"
    hold_velocity_count: int = 3
    hold_velocity_window_s: float = 86400.0
    hold_countries: str = ""
    hold_timeout_s: float = 86400.0
    hold_stale_s: float = 3600.0
    # The fake-order risk score (oms.risk, docs/intelligence-risk.md): an order scoring at
    # or over this (0-100) is held with the reason risk_score; 0 (or empty) scores nothing
    # and holds nothing. Workers look for a newer trained model every recheck seconds.
    risk_hold_score: int = Field(default=65, ge=0, le=100)
    risk_model_recheck_s: float = Field(default=60.0, gt=0)
    # The operator console (/console): a session ends after this long without a request,
    # and in any case this long after sign-in; the cookie is sent over HTTPS only when
    # secure_cookie is set (set it behind TLS in production).
    console_session_idle_s: float = 8 * 3600.0
    console_session_max_s: float = 12 * 3600.0
    console_secure_cookie: bool = False
    # Sign-ins refused in a row before the account waits console_lock_s.
    console_login_attempts: int = 5
    console_lock_s: float = 300.0
    # Late and silent: flagged and alerted, never failed.
    sla_dispatch_s: float = 7200.0
    sla_delivery_s: float = 432000.0
    ship_deadline_s: float = 86400.0
    tracking_silence_s: float = 172800.0
    # Empty parcels (oms.empty_parcel, docs/intelligence-inputs.md): a delivery sooner than
    # this after the parcel left (0: speed not judged), or with no carrier scan between
    # (no_scans), raises empty_parcel_suspected on the order; shop_count orders of one
    # channel within shop_window_s raise empty_parcel_shop (0: never). oms dev, whose
    # simulated carrier takes seconds, sets the speed to one carrier step unless given.
    empty_parcel_min_delivery_s: float = Field(default=3600.0, ge=0)
    empty_parcel_no_scans: bool = True
    empty_parcel_shop_count: int = Field(default=3, ge=0)
    empty_parcel_shop_window_s: float = Field(default=7 * 86400.0, gt=0)
    # KPI targets (docs/kpis.md): received -> first dispatch within this many seconds, and
    # the share of delivered orders without a fault.
    kpi_processing_target_s: float = Field(default=7200.0, gt=0)
    kpi_accuracy_target: float = Field(default=0.995, ge=0, le=1)
    # Demand forecasts (docs/intelligence-forecast.md): the days of order history each run
    # reads, the days it forecasts, and the UTC hour of the nightly run (the
    # ``insights-forecast`` Schedule; -1: no schedule).
    forecast_history_days: int = Field(default=182, ge=28, le=1096)
    forecast_horizon_days: int = Field(default=28, ge=7, le=120)
    forecast_hour_utc: int = Field(default=2, ge=-1, le=23)
    # Replenishment hints: the defaults where no warehouse or SKU has its own
    # (``oms insights lead-time``): days from ordering to stock on the shelf, days between
    # two reviews of a SKU, and the service level the safety stock is sized for.
    replenish_lead_time_days: int = Field(default=7, ge=0, le=365)
    replenish_review_days: int = Field(default=7, ge=0, le=365)
    replenish_service_level: float = Field(default=0.95, ge=0.5, lt=1)
    # New alerts are POSTed here as JSON, signed like partner webhooks (alert_webhook_secret).
    alert_webhook_url: str | None = None
    alert_webhook_secret: str = "sandbox-alert-webhook-secret"

    # Outbound adapters: where the payment gateway and the WMS live, and our keys there.
    payment_gateway_url: str | None = None
    payment_gateway_key: str = "sandbox-gateway-key"
    wms_url: str | None = None
    wms_api_key: str = "sandbox-wms-key"
    # The carrier's tracking registration (imported parcels already on their way).
    carrier_url: str | None = None
    carrier_api_key: str = "sandbox-carrier-key"
    # Inbound webhooks: shared secrets the WMS and the carrier sign their requests with.
    wms_webhook_secret: str = "sandbox-wms-webhook-secret"
    carrier_webhook_secret: str = "sandbox-carrier-webhook-secret"
    webhook_tolerance_s: int = 300

    # Events out (docs/events-out.md): deliveries to private, loopback or link-local
    # addresses are refused unless this is true (oms dev sets it: receivers on 127.0.0.1).
    webhook_allow_private: bool = False
    # Deliveries only to loopback addresses, whatever else is allowed: for test and
    # benchmark systems that must never send a request off this machine.
    webhook_loopback_only: bool = False
    # Seconds before each attempt of a delivery, ±20 % (oms.events_out.schedule).
    webhook_retry_schedule: str = "0,5,300,1800,7200,18000,36000,50400,72000,86400"
    # An endpoint whose every attempt has failed for this long is disabled (and alerted).
    webhook_disable_after_s: float = 432000.0
    # How long a rotated-out secret keeps signing, unless the rotation says otherwise.
    webhook_rotation_grace_s: float = 86400.0
    # One deliver_due activity runs this long before its workflow loops.
    webhook_activity_s: float = Field(default=60.0, gt=0, le=300)
    # Deliveries in flight at once per endpoint.
    webhook_concurrency: int = Field(default=16, ge=1, le=256)

    # Simulators: where they post their callbacks and how fast the parcel travels.
    api_url: str | None = None
    sim_ship_delay_s: float = 3.0
    sim_carrier_step_s: float = 3.0
    sim_poll_interval_s: float = 0.25
    # Injected partner faults, JSON {partner: {field: value}} (see simulators/faults.py),
    # e.g. {"gateway": {"error_rate": 0.2}, "carrier": {"duplicate_rate": 0.3, "outage_s": 30}}.
    sim_faults: dict[str, dict[str, float]] = {}
    # Warehouses whose sandbox WMS refuses every dispatch, comma-separated (also settable at
    # run time with PUT /sim/wms/refusals).
    sim_refuse_warehouses: str = ""
    # The marketplace simulator (simulators/marketplace/, docs/marketplace-simulator.md):
    # the app key and secret its Taobao, JD and PDD gateways accept; PDD's and Amazon's lag
    # rules (3 and 2 minutes on the real platforms); Amazon's getOrders token bucket; a
    # share of platform calls answered 503; an offset of the platform clock from real UTC.
    sim_market_app_key: str = "sandbox-market-app-key"
    sim_market_app_secret: str = "sandbox-market-app-secret"
    sim_market_pdd_lag_s: float = 180.0
    sim_market_amazon_lag_s: float = 120.0
    sim_market_amazon_rate: float = 0.0167
    sim_market_amazon_burst: int = 20
    sim_market_failure_ratio: float = 0.0
    sim_market_clock_offset_s: float = 0.0
    # Steady orders per second over the platforms listed (0: none), and how long after its
    # creation an order is paid, closed or refunded when its batch says it will be.
    sim_market_rate: float = 0.0
    sim_market_platforms: str = "taobao,jd,pdd,amazon,shopify,woocommerce"
    sim_market_lifecycle_s: float = 5.0
    # Webhooks to push targets: retries after the first attempt (backoff doubling from
    # backoff_s), the wait for an answer, and deliveries in flight per target.
    sim_market_push_retries: int = 4
    sim_market_push_backoff_s: float = 1.0
    sim_market_push_timeout_s: float = 5.0
    sim_market_push_concurrency: int = 8

    @field_validator("risk_hold_score", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return 0 if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_sandbox_secrets_in_production(self) -> Settings:
        if self.env == "production":
            for name in (
                "payment_gateway_key",
                "wms_api_key",
                "wms_webhook_secret",
                "carrier_webhook_secret",
                "carrier_api_key",
            ):
                if str(getattr(self, name)).startswith("sandbox-"):
                    raise ValueError(f"OMS_{name.upper()} must be set outside development")
            if not self.payload_keys:
                raise ValueError(
                    "OMS_PAYLOAD_KEYS must be set outside development (workflow histories "
                    "hold personal data); make one with: oms keys payload"
                )
        from oms.domain.holds import parse_thresholds
        from oms.domain.routing import parse_routing

        try:
            parse_routing(self.routing)
        except ValueError as exc:
            raise ValueError(f"OMS_ROUTING: {exc}") from exc

        from oms.domain.shortage import parse_shortage, parse_split

        for name, parse in (("shortage", parse_shortage), ("split", parse_split)):
            try:
                parse(getattr(self, name))  # type: ignore[operator]
            except ValueError as exc:
                raise ValueError(f"OMS_{name.upper()}: {exc}") from exc

        for name in ("hold_high_value", "hold_new_customer_value"):
            try:
                parse_thresholds(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"OMS_{name.upper()}: {exc}") from exc
        from oms.events_out.schedule import parse_schedule

        try:
            parse_schedule(self.webhook_retry_schedule)
        except ValueError as exc:
            raise ValueError(f"OMS_WEBHOOK_RETRY_SCHEDULE: {exc}") from exc
        if self.payload_keys:
            from oms.codec import PayloadKeyError, parse_keys

            try:
                parse_keys(self.payload_keys)
            except PayloadKeyError as exc:
                raise ValueError(f"OMS_PAYLOAD_KEYS: {exc}") from exc
        return self

    def webhook_schedule(self) -> tuple[float, ...]:
        from oms.events_out.schedule import parse_schedule

        return parse_schedule(self.webhook_retry_schedule)

    def hold_policy(self) -> HoldPolicy:
        from oms.domain.holds import parse_countries, parse_thresholds

        return HoldPolicy(
            high_value=parse_thresholds(self.hold_high_value),
            new_customer_value=parse_thresholds(self.hold_new_customer_value),
            velocity_count=self.hold_velocity_count,
            velocity_window_s=self.hold_velocity_window_s,
            countries=parse_countries(self.hold_countries),
        )

    @property
    def api_base_url(self) -> str:
        return self.api_url or f"http://{self.host}:{self.api_port}"

    @property
    def sim_base_url(self) -> str:
        return f"http://{self.host}:{self.sim_port}"

    @property
    def gateway_base_url(self) -> str:
        return self.payment_gateway_url or f"{self.sim_base_url}/gateway"

    @property
    def wms_base_url(self) -> str:
        return self.wms_url or f"{self.sim_base_url}/wms"

    @property
    def carrier_base_url(self) -> str:
        return self.carrier_url or f"{self.sim_base_url}/carrier"

    @property
    def web_ui_url(self) -> str:
        return self.temporal_ui_url or f"http://{self.host}:{self.temporal_ui_port}"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"{self.host}:{self.temporal_port}"

    def listen_dsn(self) -> str:
        """The plain ``postgresql://`` URL for LISTEN connections: OMS_LISTEN_DATABASE_URL,
        else DATABASE_URL (refused behind a transaction pooler, where a LISTEN would be
        registered on a connection handed to someone else after the statement)."""
        if self.listen_database_url:
            url = self.listen_database_url
        elif self.database_pooler == "transaction":
            raise SettingsError(
                "OMS_DATABASE_POOLER=transaction needs OMS_LISTEN_DATABASE_URL: LISTEN "
                "does not work through a pooler in transaction mode, so the worker listens "
                "on a direct connection to PostgreSQL"
            )
        else:
            url = self.async_database_url()
        for prefix in ("postgresql+asyncpg://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql://" + url[len(prefix) :]
        if not url.startswith("postgresql://"):
            raise SettingsError("OMS_LISTEN_DATABASE_URL must be a postgresql:// URL")
        return url

    def async_database_url(self) -> str:
        """The database URL with the asyncpg driver, whatever scheme it was given in."""
        if not self.database_url:
            raise SettingsError(
                "DATABASE_URL is not set (oms dev sets it for the embedded server; "
                "the separate processes need it, e.g. postgresql://user:pass@host:5432/oms)"
            )
        url = self.database_url
        for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        raise SettingsError("DATABASE_URL must be a postgresql:// URL")


@lru_cache
def get_settings() -> Settings:
    return Settings()
