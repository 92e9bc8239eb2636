"""The tables PostgreSQL keeps: the facts of the OMS.

Stock is the only authority on inventory; ``reserved <= on_hand`` is a CHECK so no code
path, however buggy, can promise more than is on the shelf.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kw)
    )


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: str
    channel: str | None = None
    prefix: str
    key_hash: str = Field(unique=True)
    created_at: datetime = _ts()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Partner keys: what the key may do (oms.keys.SCOPES); NULL for the other roles.
    scopes: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text())))
    # Requests per second (a burst of twice as many); NULL: OMS_KEY_RATE_LIMIT_PER_S.
    rate_limit_per_s: float | None = Field(default=None, sa_column=Column(Float()))
    # Refused from this moment on (the old key of a rotation, once its grace has passed).
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Written at most once a minute per key, not on every request.
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The key this one replaced (POST /v1/keys/{id}/rotate).
    rotated_from: int | None = Field(default=None, sa_column=Column(Integer()))


class Channel(SQLModel, table=True):
    """A configured sales channel (oms.channel_registry). The webhook secret and the
    platform credentials are sealed with the payload keys (oms.channels.sealing): the
    database and its backups never hold them in clear."""

    __tablename__ = "channels"
    name: str = Field(primary_key=True)
    platform: str
    intake: str  # push | pull | both
    mode: str  # live | shadow
    secret_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary()))
    credentials_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary()))
    # NULL: the settings (OMS_ROUTING, OMS_SHORTAGE, OMS_SPLIT) decide.
    routing: str | None = Field(default=None, sa_column=Column(String()))
    shortage: str | None = Field(default=None, sa_column=Column(String()))
    split: bool | None = Field(default=None, sa_column=Column(Boolean()))
    payment_timeout_s: float = Field(sa_column=Column(Float(), nullable=False))
    pull_interval_s: float = Field(sa_column=Column(Float(), nullable=False))
    pull_lag_s: float = Field(sa_column=Column(Float(), nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean(), nullable=False))
    mode_changed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    mode_changed_by: str | None = Field(default=None, sa_column=Column(String()))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    created_by: str
    updated_by: str
    # A shadow channel's pilot: orders shipping to these countries (ISO 3166-1 alpha-2)
    # are handled live; a change is a switch (mode_changed_at), like a change of mode.
    live_countries: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String()), nullable=False, server_default=text("'{}'::varchar[]")),
    )


class ShadowCurrent(SQLModel, table=True):
    """The current system's decisions for a shadow channel's orders, from its export
    (``oms shadow load``); a newer load replaces an order's row."""

    __tablename__ = "shadow_current"
    channel: str = Field(primary_key=True)
    external_id: str = Field(primary_key=True)
    held: bool | None = Field(default=None, sa_column=Column(Boolean()))
    cancelled: bool | None = Field(default=None, sa_column=Column(Boolean()))
    warehouses: list[str] | None = Field(default=None, sa_column=Column(ARRAY(String())))
    split: bool | None = Field(default=None, sa_column=Column(Boolean()))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    loaded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    loaded_by: str
    file: str


class Warehouse(SQLModel, table=True):
    __tablename__ = "warehouses"
    id: str = Field(primary_key=True)
    name: str
    country: str
    lat: float
    lon: float
    priority: int
    created_at: datetime = _ts()


class Stock(SQLModel, table=True):
    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="stock_on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="stock_reserved_non_negative"),
        CheckConstraint("reserved <= on_hand", name="stock_reserved_within_on_hand"),
        Index("ix_stock_sku", "sku"),
        # The console's stock page (oms/store/stock_view.py, migration 0014): pages in
        # (sku, warehouse) order byte-wise, within a warehouse too; the last level per source.
        # The migration builds the first two with each column COLLATE "C"; PostgreSQL's
        # reflection does not report an index column's collation, so they are described
        # here by their columns only.
        Index("ix_stock_sku_c", "sku", "warehouse_id"),
        Index("ix_stock_warehouse_sku_c", "warehouse_id", "sku"),
        Index("ix_stock_source_as_of", "source", "as_of"),
    )
    warehouse_id: str = Field(primary_key=True, foreign_key="warehouses.id")
    sku: str = Field(primary_key=True)
    on_hand: int = 0
    reserved: int = 0
    updated_at: datetime = _ts()
    # The last absolute level applied from a source (POST /v1/stock/sync): older ones lose.
    as_of: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    source: str | None = None


class StockMovement(SQLModel, table=True):
    """Journal of every change to stock, with why it happened."""

    __tablename__ = "stock_movements"
    # A warehouse and SKU's last movements (the console's stock page, migration 0014).
    __table_args__ = (Index("ix_stock_movements_pair", "warehouse_id", "sku", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    warehouse_id: str
    sku: str
    kind: str  # set | adjust | reserve | release | commit
    on_hand_delta: int = 0
    reserved_delta: int = 0
    reason: str | None = None
    order_id: str | None = Field(default=None, index=True)
    created_at: datetime = _ts()


class StockImport(SQLModel, table=True):
    """A CSV of stock levels imported from the console: who started it, how far it got
    (``checking`` the rows, ``applying`` them in one transaction, then ``done`` or
    ``failed``), the counts and the report of the rows refused or ignored. The row is
    finished in the transaction that applies the levels, so an import stopped midway (the
    API process ended) applied nothing; it stops updating ``updated_at``."""

    __tablename__ = "stock_imports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('checking', 'applying', 'done', 'failed')", name="stock_imports_status"
        ),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigInteger(), Identity(), primary_key=True)
    )
    created_at: datetime = _ts(server_default=text("now()"))
    created_by: str
    file_name: str
    source: str
    skip_invalid: bool
    note: str | None = Field(default=None, sa_column=Column(Text()))
    status: str
    rows_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_done: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    applied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    stale: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    superseded: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rejected: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    shortfalls: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    report: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    error: str | None = Field(default=None, sa_column=Column(Text()))
    updated_at: datetime = _ts(server_default=text("now()"))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Reservation(SQLModel, table=True):
    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint(
            "order_id", "round", "warehouse_id", "sku", name="reservations_order_round_wh_sku"
        ),
        CheckConstraint("quantity > 0", name="reservations_quantity_positive"),
    )
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True)
    warehouse_id: str = Field(foreign_key="warehouses.id")
    sku: str
    quantity: int
    status: str = "held"  # held | committed | released
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # Orders reserve in rounds (the first, a re-route after a refusal, a backorder filled);
    # 0 for orders started before rounds existed. Each row belongs to one shipment.
    round: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    shipment_id: str | None = None


class BackorderLine(SQLModel, table=True):
    """What a backordered order waits for, queued by order time: stock for a SKU goes to
    the earliest waiting order first (see activities/inventory.py)."""

    __tablename__ = "backorder_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="backorder_lines_quantity_positive"),
        Index("ix_backorder_lines_queue", "sku", "ordered_at", "order_id"),
    )
    order_id: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    quantity: int
    ordered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = _ts()


class Order(SQLModel, table=True):
    """The orders read model: the last view the workflow recorded, plus intake facts."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="orders_channel_external_id"),
        UniqueConstraint("channel", "idempotency_key", name="orders_channel_idempotency_key"),
        Index("ix_orders_created", "created_at", "id"),
        # The velocity rule's distinct customers at an address (activities/holds.py).
        Index("ix_orders_address_customer", "address_key", "customer_id", "created_at"),
        # The console's order search (oms/store/order_search.py, migration 0013): a status
        # and a customer newest first; the external id alone; prefixes of the email, the
        # name and the phone's digits (the SKUs of the lines: ``order_skus``).
        Index("ix_orders_status_created", "status", "created_at", "id"),
        Index("ix_orders_customer_created", "customer_id", "created_at", "id"),
        Index("ix_orders_external_id", "external_id"),
        Index(
            "ix_orders_email",
            literal_column("lower((view -> 'customer') ->> 'email')").label("email"),
            postgresql_ops={"email": "text_pattern_ops"},
        ),
        Index(
            "ix_orders_customer_name",
            literal_column("lower((view -> 'customer') ->> 'name')").label("name"),
            postgresql_ops={"name": "text_pattern_ops"},
        ),
        Index(
            "ix_orders_phone",
            literal_column(
                "regexp_replace((view -> 'shipping_address') ->> 'phone', '[^0-9]', '', 'g')"
            ).label("phone"),
            postgresql_ops={"phone": "text_pattern_ops"},
        ),
        # A channel's newest orders (the console's channels page, migration 0014).
        Index("ix_orders_channel_created", "channel", "created_at"),
        # The risk score's lookups (oms/store/risk.py, migration 0023): an address's, a
        # phone's, a device's and an IP's orders newest first.
        Index("ix_orders_risk_address", "address_key", "created_at"),
        Index(
            "ix_orders_risk_phone",
            literal_column(
                "regexp_replace((view -> 'shipping_address') ->> 'phone', '[^0-9]', '', 'g')"
            ).label("phone"),
            "created_at",
        ),
        Index(
            "ix_orders_risk_device",
            literal_column("((view -> 'client') ->> 'device_id')").label("device"),
            "created_at",
        ),
        Index(
            "ix_orders_risk_ip",
            literal_column("((view -> 'client') ->> 'ip')").label("ip"),
            "created_at",
        ),
    )
    id: str = Field(primary_key=True)
    channel: str
    external_id: str
    idempotency_key: str | None = None
    request_hash: str
    customer_id: str
    status: str
    failure_reason: str | None = None
    last_seq: int = 0
    view: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    # Kept only until the workflow records its first step, so that an order whose
    # workflow could not be started at intake can be started later (worker recovery).
    payment_token: str | None = None
    # The normalised shipping address (oms.domain.holds.address_key), for the velocity rule.
    address_key: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OrderEvent(SQLModel, table=True):
    __tablename__ = "order_events"
    order_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    type: str
    status: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _ts()


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"
    id: str = Field(primary_key=True)
    order_id: str = Field(index=True)
    warehouse_id: str
    status: str
    tracking_number: str | None = Field(default=None, unique=True)
    carrier: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Payment(SQLModel, table=True):
    """The OMS payment ledger: one settled row per step and idempotency key, plus a
    ``failed`` row for each attempt that reached no verdict."""

    __tablename__ = "payments"
    __table_args__ = (
        Index(
            "uq_payments_settled_key",
            "idempotency_key",
            unique=True,
            postgresql_where=text("status <> 'failed'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True)
    kind: str  # authorize | capture | void | refund
    status: str  # succeeded | declined | failed
    amount: Decimal = Field(sa_column=Column(Numeric(20, 4), nullable=False))
    currency: str
    idempotency_key: str = Field(index=True)
    gateway_reference: str | None = None
    error: str | None = None
    created_at: datetime = _ts()


class PartnerEventRecord(SQLModel, table=True):
    """Each partner event the API has answered, by the partner's own ``event_id``: a
    redelivered event gets the first answer again instead of being processed twice."""

    __tablename__ = "partner_events"
    partner: str = Field(primary_key=True)  # warehouse | carrier
    event_id: str = Field(primary_key=True)
    body_hash: str
    shipment_id: str
    tracking_number: str | None = Field(default=None, index=True)
    accepted: bool
    response: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _ts()


class Alert(SQLModel, table=True):
    """Exceptions for operators: one open alert per order (and shipment) and kind."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open",
            "order_id",
            "kind",
            "subject",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_alerts_status_created", "status", "created_at", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True)
    # What within the order: a shipment id, an activity name, or "" for the order itself.
    subject: str = ""
    kind: str
    status: str = "open"  # open | acknowledged
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _ts()
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    note: str | None = None


class ChannelOrder(SQLModel, table=True):
    """A channel order's platform side: the state its platform last gave, when, and the
    raw payload it came as (sealed with the payload keys), so a mapping fix can re-read it."""

    __tablename__ = "channel_orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="channel_orders_channel_external_id"),
    )
    order_id: str = Field(primary_key=True)
    channel: str
    external_id: str
    platform: str
    state: str
    platform_status: str
    platform_updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ChannelReceipt(SQLModel, table=True):
    """A platform webhook taken: its delivery id, so a retried delivery is taken once."""

    __tablename__ = "channel_receipts"
    channel: str = Field(primary_key=True)
    delivery_id: str = Field(primary_key=True)
    order_id: str | None = None
    outcome: str
    received_at: datetime = _ts()


class PullCursor(SQLModel, table=True):
    """Where each pull channel has read its platform up to: ``cursor`` is the end of the
    last window whose every order was taken, and only ever moves forward. The window and
    page under way, the count taken and the failure since when are for operators."""

    __tablename__ = "pull_cursors"
    channel: str = Field(primary_key=True)
    # None until the first pull has the platform's clock to start from.
    cursor: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    window_end: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    page: str | None = None
    taken: int = 0
    updated_at: datetime = _ts()
    last_error: str | None = None
    failing_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The alert raised for the current failure, acknowledged when the pulls recover.
    alert_id: int | None = None


# --- events out (oms/events_out, docs/events-out.md) --------------------------------------
# Written by the triggers of migration 0008 and by oms/store/webhook_endpoints.py and
# oms/store/outbox.py.


def _opt_ts() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class WebhookEndpoint(SQLModel, table=True):
    """A partner's endpoint: where events go and which. The secret is sealed
    (oms.events_out.sealing); after a rotation the previous one signs too until
    ``previous_secret_until``."""

    __tablename__ = "webhook_endpoints"
    id: str = Field(primary_key=True)
    url: str
    events: list[str] = Field(sa_column=Column(ARRAY(String()), nullable=False))
    description: str | None = None
    enabled: bool
    secret: str
    previous_secret: str | None = None
    previous_secret_until: datetime | None = _opt_ts()
    # Since when every attempt failed (cleared by a success): the endpoint is disabled
    # once this is older than OMS_WEBHOOK_DISABLE_AFTER_S.
    failing_since: datetime | None = _opt_ts()
    disabled_reason: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _opt_ts()


class OutboxEvent(SQLModel, table=True):
    """An event, written by a trigger in the statement that wrote its fact."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_order", "order_id", "seq"),)
    id: str = Field(primary_key=True)  # evt_<32 hex>: the webhook-id on every attempt
    type: str
    order_id: str | None = None
    seq: int | None = None
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: pending | failed (a retry is scheduled) | delivered |
    exhausted. Order events go one at a time per order, lowest seq first."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="webhook_deliveries_endpoint_event"),
        Index(
            "ix_webhook_deliveries_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'failed')"),
        ),
        Index(
            "ix_webhook_deliveries_order_head",
            "endpoint_id",
            "order_id",
            "seq",
            postgresql_where=text("status IN ('pending', 'failed') AND order_id IS NOT NULL"),
        ),
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    endpoint_id: str
    event_id: str
    order_id: str | None = None
    seq: int | None = None
    status: str
    # Attempts in the current schedule (a redelivery starts it again).
    attempts: int
    next_attempt_at: datetime | None = _opt_ts()
    last_error: str | None = None
    delivered_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    delivery_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    next_attempt_at: datetime | None = _opt_ts()


class User(SQLModel, table=True):
    """A person who signs in to the console (``oms users create``): an operator (works the
    orders and sees personal data), an admin (also manages), or a viewer (reads the
    figures and the orders without personal data, takes no action). The password is kept
    only as an Argon2id hash."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'admin', 'viewer')", name="users_role"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer(), Identity(), primary_key=True))
    name: str = Field(sa_column=Column(String(), nullable=False, unique=True))
    role: str
    password_hash: str
    created_at: datetime = _ts(server_default=text("now()"))
    created_by: str
    disabled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    password_changed_at: datetime = _ts(server_default=text("now()"))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Sign-ins refused in a row; past the limit the account waits until ``locked_until``.
    failed_logins: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the table only its hash, the
    session's CSRF token, and when it ends (idle or absolute limit, or sign-out)."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)
    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    csrf_token: str
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    user_agent: str | None = None


class ConsoleAudit(SQLModel, table=True):
    """What people did in the console: sign-ins (refused ones too), sign-outs, and every
    action with its target, note and outcome."""

    __tablename__ = "console_audit"
    __table_args__ = (
        Index("ix_console_audit_target", "target", "at"),
        Index("ix_console_audit_user", "user_name", "at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigInteger(), Identity(), primary_key=True)
    )
    at: datetime = _ts(server_default=text("now()"))
    user_name: str
    action: str
    target: str | None = None
    note: str | None = Field(default=None, sa_column=Column(Text()))
    outcome: str
    detail: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )


def _flag() -> Any:
    return Field(default=False, sa_column=Column(Boolean(), nullable=False, server_default="false"))


def _count() -> Any:
    return Field(default=0, sa_column=Column(Integer(), nullable=False, server_default="0"))


class OrderKpiFacts(SQLModel, table=True):
    """One narrow row per order with what the KPI report reads (docs/kpis.md), kept by the
    triggers of migration 0015 on ``orders``, ``order_events``, ``payments`` and
    ``shipments``; read by ``oms/store/reports.py``."""

    __tablename__ = "order_kpi_facts"
    __table_args__ = (
        Index("ix_order_kpi_facts_received", "received_at", "channel"),
        Index(
            "ix_order_kpi_facts_processing",
            "processing_s",
            postgresql_include=["received_at", "channel"],
            postgresql_where=text("NOT shadow AND processing_s IS NOT NULL"),
        ),
        Index(
            "ix_order_kpi_facts_delivery",
            "delivery_s",
            postgresql_include=["received_at", "channel"],
            postgresql_where=text("NOT shadow AND delivery_s IS NOT NULL"),
        ),
        {"postgresql_with": {"fillfactor": "80"}},
    )
    order_id: str = Field(primary_key=True)
    channel: str
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    shadow: bool = _flag()
    cancel_code: str | None = None
    cancelled_by: str | None = None
    first_dispatched_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    flawed: bool = _flag()
    late_dispatch: bool = _flag()
    backordered: bool = _flag()
    parcels: int = _count()
    parcels_shipped: int = _count()
    # Generated: seconds to the first dispatch, and from it to delivery (float8).
    processing_s: float | None = Field(
        default=None,
        sa_column=Column(
            Float(),
            Computed("extract(epoch FROM first_dispatched_at - received_at)", persisted=True),
        ),
    )
    delivery_s: float | None = Field(
        default=None,
        sa_column=Column(
            Float(),
            Computed("extract(epoch FROM delivered_at - first_dispatched_at)", persisted=True),
        ),
    )


class OrderKpiHold(SQLModel, table=True):
    """One row per ``order_held`` entry: its reasons and the first entry after it that
    ended it (migration 0015's trigger on ``order_events``)."""

    __tablename__ = "order_kpi_holds"
    order_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    reasons: list[str] = Field(sa_column=Column(ARRAY(String()), nullable=False))
    ended_by: str | None = None
    ended_seq: int | None = None


class OrderKpiUnits(SQLModel, table=True):
    """A delivered order's units per SKU, from its delivered shipments: the return rate's
    denominator (docs/kpis.md). Written only by the trigger ``oms_kpi_units`` on ``orders``
    when the order becomes delivered (migration 0024), read by
    ``oms/store/return_reports.py``."""

    __tablename__ = "order_kpi_units"
    __table_args__ = (Index("ix_order_kpi_units_received_at", "received_at"),)
    order_id: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    channel: str
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    delivered: int


class OrderSku(SQLModel, table=True):
    """Each SKU of an order's lines with the order's time, for the console's search by
    SKU newest first (one index range). Written only by the trigger ``oms_order_skus`` on
    ``orders`` (migration 0016), read by ``oms/store/order_search.py``."""

    __tablename__ = "order_skus"
    __table_args__ = (Index("ix_order_skus_order", "order_id"),)
    sku: str = Field(primary_key=True)
    ordered_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), primary_key=True, nullable=False)
    )
    order_id: str = Field(primary_key=True)


class ImportRun(SQLModel, table=True):
    """One run of the import writer (``oms.imports.writer``, migration 0017), by its key
    (the channel, the format and the files' bytes hashed): the input's orders committed so
    far, the last one's external id, the counts and refusals so far; updated in each
    batch's transaction, so a run started again goes on after its last committed batch."""

    __tablename__ = "import_runs"
    run_key: str = Field(primary_key=True)
    channel: str
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    committed: int = _count()
    last_external_id: str | None = None
    counts: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    refusals: list[Any] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )


class RiskModel(SQLModel, table=True):
    """A trained risk model (``oms risk train``, migration 0023): every worker uses the
    newest active version, and each score records the version it used. ``model`` is the
    pickled model, written and read only by ``oms.risk.model``."""

    __tablename__ = "risk_models"
    version: str = Field(primary_key=True)
    trained_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    active: bool = Field(sa_column=Column(Boolean(), nullable=False, server_default=text("true")))
    features: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    params: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    metrics: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    model: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))


class DemandForecast(SQLModel, table=True):
    """One nightly run's forecast of a SKU's daily demand, in one warehouse or (warehouse
    ``''``) in all (``oms.insights``, migration 0019): the units per day from the run day
    on, the demand class and method, and what the safety stock and the hot products are
    read from. A run replaces its own day's rows; rows of runs older than the retention
    are deleted by the run."""

    __tablename__ = "demand_forecasts"
    run_date: date = Field(sa_column=Column(Date(), primary_key=True, nullable=False))
    warehouse_id: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    demand_class: str
    method: str
    daily: list[float] = Field(sa_column=Column(ARRAY(Float()), nullable=False))
    sigma: float
    adi: float | None = None
    cv2: float | None = None
    params: list[float] = Field(sa_column=Column(ARRAY(Float()), nullable=False))
    history_days: int
    last_7: float
    last_28: float
    created_at: datetime = _ts()


class ReplenishmentSetting(SQLModel, table=True):
    """A warehouse's own lead time, review period and service level (``sku`` ``''``), or a
    SKU's in a warehouse; a value left NULL falls back to the warehouse's, then to the
    settings (``OMS_REPLENISH_*``). Written by ``oms insights lead-time`` (migration 0019)."""

    __tablename__ = "replenishment_settings"
    warehouse_id: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    lead_time_days: int | None = None
    review_days: int | None = None
    service_level: float | None = None
    updated_at: datetime = _ts()
    updated_by: str


class RoutingLeadTime(SQLModel, table=True):
    """Delivery days learned from the recorded shipments (dispatch to delivery) per
    warehouse and destination (country, area), rolled up per country (area '') and per
    warehouse (country and area ''): oms.domain.delivery, migration 0021. Replaced whole
    by each refresh (``oms routing learn``, the worker's periodic refresh)."""

    __tablename__ = "routing_lead_times"
    warehouse_id: str = Field(primary_key=True)
    country: str = Field(primary_key=True)
    area: str = Field(primary_key=True)
    samples: int
    mean_days: float
    median_days: float
    p90_days: float
    refreshed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RoutingCost(SQLModel, table=True):
    """What a parcel costs from a warehouse to a destination (country and area, '' for
    all of them): a base per parcel and an amount per unit (``oms routing costs load``)."""

    __tablename__ = "routing_costs"
    warehouse_id: str = Field(primary_key=True)
    country: str = Field(primary_key=True)
    area: str = Field(primary_key=True)
    base: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    per_unit: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_by: str


class RoutingDecision(SQLModel, table=True):
    """An order's first allocation: the strategy that chose, its parcels, expected days
    and cost, and in ``options`` what every compared strategy would have chosen
    (strategy -> warehouses, shipments, days, cost). Written by the reservation in its
    transaction; read by ``GET /v1/insights/routing`` and ``oms routing compare``."""

    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_created", "created_at"),)
    order_id: str = Field(primary_key=True)
    channel: str
    strategy: str
    country: str
    area: str
    shipments: int
    expected_days: float
    expected_cost: float
    options: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Return(SQLModel, table=True):
    """A return of some of an order's delivered units (docs/returns.md): asked, decided,
    labelled, received, resolved. Its lines are ``return_lines``."""

    __tablename__ = "returns"
    __table_args__ = (
        CheckConstraint(
            "resolution IN ('refund', 'exchange', 'store_credit', 'none')",
            name="returns_resolution",
        ),
        # The returns' KPIs and the console's queue read returns by time (migration 0024).
        Index("ix_returns_created_at", "created_at"),
        Index("ix_returns_status_created_at", "status", "created_at"),
    )
    id: str = Field(primary_key=True)
    order_id: str = Field(index=True)
    status: str  # requested | approved | rejected | received | closed
    reason: str
    resolution: str
    requested_by: str
    note: str | None = Field(default=None, sa_column=Column(Text()))
    warehouse_id: str  # the warehouse that receives the parcel
    decided_by: str | None = None
    decision_note: str | None = Field(default=None, sa_column=Column(Text()))
    tracking_number: str | None = None
    refund_id: str | None = None
    exchange_order_id: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ReturnLine(SQLModel, table=True):
    """One SKU of a return: the units asked back, then what the warehouse found."""

    __tablename__ = "return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="return_lines_quantity"),)
    return_id: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    quantity: int
    restockable: int | None = None
    damaged: int | None = None
    missing: int | None = None
    received_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    restocked: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class Refund(SQLModel, table=True):
    """Money given back for an order, against its captures: for a return, or on its own
    (goodwill, a price adjustment). ``refunded`` is what the gateway gave back so far."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="refunds_amount"),
        Index("ix_refunds_created_at", "created_at"),  # the refunds' KPIs (migration 0024)
    )
    id: str = Field(primary_key=True)
    order_id: str = Field(index=True)
    return_id: str | None = None
    amount: Decimal = Field(sa_column=Column(Numeric(20, 4), nullable=False))
    currency: str
    status: str  # pending | succeeded | failed
    reason: str
    note: str | None = Field(default=None, sa_column=Column(Text()))
    requested_by: str
    refunded: Decimal = Field(
        default=Decimal(0),
        sa_column=Column(Numeric(20, 4), nullable=False, server_default=text("0")),
    )
    error: str | None = Field(default=None, sa_column=Column(Text()))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class RefundPart(SQLModel, table=True):
    """The share of a refund drawn on one capture (ledger key ``<order>-capture-<n>``);
    fixed once, so a retried refund never draws twice."""

    __tablename__ = "refund_parts"
    __table_args__ = (CheckConstraint("amount > 0", name="refund_parts_amount"),)
    refund_id: str = Field(primary_key=True)
    part: int = Field(primary_key=True)
    capture_key: str = Field(index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(20, 4), nullable=False))


class StoreCredit(SQLModel, table=True):
    """Credit for the customer's next purchase, given for a return instead of money back."""

    __tablename__ = "store_credits"
    return_id: str = Field(primary_key=True)
    order_id: str
    customer_id: str = Field(index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(20, 4), nullable=False))
    currency: str
    created_at: datetime = _ts()
