-- One composite type per chained log table, its attributes in the appender's column order
-- (gateway/audit/streams.py: content columns, then the chain fields). The appender sends a
-- batch as one array of these and inserts it with `unnest`, so a batch of decisions, the
-- exchange's answers and a new chain's registry row go in ONE statement: one round trip,
-- atomic on its own, instead of BEGIN, COPY, COPY, COMMIT and the pool's reset.
-- Dedicated types rather than the tables' own row types: a column added to a table later
-- does not change what a running gateway sends. tests/audit/test_append.py checks that
-- each type matches its table.

-- migrate:up
CREATE TYPE decision_entry AS (
    id                uuid,
    decided_at        timestamptz,
    request_id        text,
    customer_id       uuid,
    api_key_id        uuid,
    dialect           text,
    operation         text,
    action_kind       text,
    http_method       text,
    path              text,
    symbol            text,
    base_asset        text,
    quote_asset       text,
    asset             text,
    side              text,
    order_type        text,
    quantity          numeric,
    price             numeric,
    notional          numeric,
    notional_asset    text,
    address           text,
    network           text,
    client_order_id   text,
    outcome           text,
    reasons           text[],
    rule_ids          text[],
    findings          jsonb,
    rule_pack_version text,
    decision_micros   integer,
    country           text,
    review_status     text,
    facts             jsonb,
    chain_id          uuid,
    seq               bigint,
    prev_hash         bytea,
    entry_hash        bytea
);

CREATE TYPE upstream_result_entry AS (
    decision_id     uuid,
    recorded_at     timestamptz,
    http_status     integer,
    error           text,
    upstream_micros integer,
    chain_id        uuid,
    seq             bigint,
    prev_hash       bytea,
    entry_hash      bytea
);

CREATE TYPE audit_event_entry AS (
    id           uuid,
    occurred_at  timestamptz,
    kind         text,
    actor        text,
    subject_type text,
    subject_id   text,
    reason       text,
    details      jsonb,
    chain_id     uuid,
    seq          bigint,
    prev_hash    bytea,
    entry_hash   bytea
);

-- migrate:down
DROP TYPE audit_event_entry;
DROP TYPE upstream_result_entry;
DROP TYPE decision_entry;
