CREATE TABLE api_keys (
    id integer NOT NULL,
    name character varying NOT NULL,
    role character varying NOT NULL,
    channel character varying,
    prefix character varying NOT NULL,
    key_hash character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone
);
CREATE SEQUENCE api_keys_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE api_keys_id_seq OWNED BY api_keys.id;
CREATE TABLE order_events (
    order_id character varying NOT NULL,
    seq integer NOT NULL,
    type character varying NOT NULL,
    status character varying NOT NULL,
    data jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL
);
CREATE TABLE orders (
    id character varying NOT NULL,
    channel character varying NOT NULL,
    external_id character varying NOT NULL,
    idempotency_key character varying,
    request_hash character varying NOT NULL,
    customer_id character varying NOT NULL,
    status character varying NOT NULL,
    failure_reason character varying,
    last_seq integer NOT NULL,
    view jsonb NOT NULL,
    payment_token character varying,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);
CREATE TABLE payments (
    id integer NOT NULL,
    order_id character varying NOT NULL,
    kind character varying NOT NULL,
    status character varying NOT NULL,
    amount numeric(20,4) NOT NULL,
    currency character varying NOT NULL,
    idempotency_key character varying NOT NULL,
    gateway_reference character varying,
    error character varying,
    created_at timestamp with time zone NOT NULL
);
CREATE SEQUENCE payments_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE payments_id_seq OWNED BY payments.id;
CREATE TABLE reservations (
    id integer NOT NULL,
    order_id character varying NOT NULL,
    warehouse_id character varying NOT NULL,
    sku character varying NOT NULL,
    quantity integer NOT NULL,
    status character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT reservations_quantity_positive CHECK ((quantity > 0))
);
CREATE SEQUENCE reservations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE reservations_id_seq OWNED BY reservations.id;
CREATE TABLE shipments (
    id character varying NOT NULL,
    order_id character varying NOT NULL,
    warehouse_id character varying NOT NULL,
    status character varying NOT NULL,
    tracking_number character varying,
    carrier character varying,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);
CREATE TABLE stock (
    warehouse_id character varying NOT NULL,
    sku character varying NOT NULL,
    on_hand integer NOT NULL,
    reserved integer NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT stock_on_hand_non_negative CHECK ((on_hand >= 0)),
    CONSTRAINT stock_reserved_non_negative CHECK ((reserved >= 0)),
    CONSTRAINT stock_reserved_within_on_hand CHECK ((reserved <= on_hand))
);
CREATE TABLE stock_movements (
    id integer NOT NULL,
    warehouse_id character varying NOT NULL,
    sku character varying NOT NULL,
    kind character varying NOT NULL,
    on_hand_delta integer NOT NULL,
    reserved_delta integer NOT NULL,
    reason character varying,
    order_id character varying,
    created_at timestamp with time zone NOT NULL
);
CREATE SEQUENCE stock_movements_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE stock_movements_id_seq OWNED BY stock_movements.id;
CREATE TABLE warehouses (
    id character varying NOT NULL,
    name character varying NOT NULL,
    country character varying NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    priority integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);
ALTER TABLE ONLY api_keys ALTER COLUMN id SET DEFAULT nextval('api_keys_id_seq'::regclass);
ALTER TABLE ONLY payments ALTER COLUMN id SET DEFAULT nextval('payments_id_seq'::regclass);
ALTER TABLE ONLY reservations ALTER COLUMN id SET DEFAULT nextval('reservations_id_seq'::regclass);
ALTER TABLE ONLY stock_movements ALTER COLUMN id SET DEFAULT nextval('stock_movements_id_seq'::regclass);
ALTER TABLE ONLY api_keys
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);
ALTER TABLE ONLY api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);
ALTER TABLE ONLY order_events
    ADD CONSTRAINT order_events_pkey PRIMARY KEY (order_id, seq);
ALTER TABLE ONLY orders
    ADD CONSTRAINT orders_channel_external_id UNIQUE (channel, external_id);
ALTER TABLE ONLY orders
    ADD CONSTRAINT orders_channel_idempotency_key UNIQUE (channel, idempotency_key);
ALTER TABLE ONLY orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
ALTER TABLE ONLY payments
    ADD CONSTRAINT payments_pkey PRIMARY KEY (id);
ALTER TABLE ONLY reservations
    ADD CONSTRAINT reservations_order_wh_sku UNIQUE (order_id, warehouse_id, sku);
ALTER TABLE ONLY reservations
    ADD CONSTRAINT reservations_pkey PRIMARY KEY (id);
ALTER TABLE ONLY shipments
    ADD CONSTRAINT shipments_pkey PRIMARY KEY (id);
ALTER TABLE ONLY shipments
    ADD CONSTRAINT shipments_tracking_number_key UNIQUE (tracking_number);
ALTER TABLE ONLY stock_movements
    ADD CONSTRAINT stock_movements_pkey PRIMARY KEY (id);
ALTER TABLE ONLY stock
    ADD CONSTRAINT stock_pkey PRIMARY KEY (warehouse_id, sku);
ALTER TABLE ONLY warehouses
    ADD CONSTRAINT warehouses_pkey PRIMARY KEY (id);
CREATE INDEX ix_orders_channel ON orders USING btree (channel);
CREATE INDEX ix_orders_created ON orders USING btree (created_at, id);
CREATE INDEX ix_orders_customer_id ON orders USING btree (customer_id);
CREATE INDEX ix_orders_status ON orders USING btree (status);
CREATE INDEX ix_payments_idempotency_key ON payments USING btree (idempotency_key);
CREATE INDEX ix_payments_order_id ON payments USING btree (order_id);
CREATE INDEX ix_reservations_order_id ON reservations USING btree (order_id);
CREATE INDEX ix_shipments_order_id ON shipments USING btree (order_id);
CREATE INDEX ix_stock_movements_order_id ON stock_movements USING btree (order_id);
CREATE INDEX ix_stock_sku ON stock USING btree (sku);
CREATE UNIQUE INDEX uq_payments_settled_key ON payments USING btree (idempotency_key) WHERE ((status)::text <> 'failed'::text);
ALTER TABLE ONLY reservations
    ADD CONSTRAINT reservations_warehouse_id_fkey FOREIGN KEY (warehouse_id) REFERENCES warehouses(id);
ALTER TABLE ONLY stock
    ADD CONSTRAINT stock_warehouse_id_fkey FOREIGN KEY (warehouse_id) REFERENCES warehouses(id);
