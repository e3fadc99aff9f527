-- Core tables for the gateway: customers, their API keys, and the decision log.
-- Every amount is NUMERIC (never float): money is exact. Every time is timestamptz (UTC).

-- migrate:up
CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    -- The exchange-side account reference an operator knows the customer by.
    reference   text NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 128),
    status      text NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'suspended', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id                 uuid PRIMARY KEY,
    customer_id        uuid NOT NULL REFERENCES customers (id),
    api_key            text NOT NULL UNIQUE,
    -- AES-GCM ciphertext of the HMAC secret (nonce || ciphertext); the key is in settings,
    -- never in the database, so a dump of this table does not let anyone sign requests.
    secret_ciphertext  bytea NOT NULL,
    label              text NOT NULL DEFAULT '',
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);
CREATE INDEX api_keys_customer ON api_keys (customer_id);

-- One row per decided call, written before the call is forwarded (fail closed).
CREATE TABLE decisions (
    id                uuid PRIMARY KEY,
    decided_at        timestamptz NOT NULL,
    request_id        text NOT NULL,
    customer_id       uuid REFERENCES customers (id),
    api_key_id        uuid REFERENCES api_keys (id),
    dialect           text NOT NULL,
    operation         text NOT NULL,
    action_kind       text NOT NULL,
    http_method       text NOT NULL,
    path              text NOT NULL,
    symbol            text,
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
    outcome           text NOT NULL
                      CHECK (outcome IN ('allow', 'allow_and_report', 'hold', 'deny')),
    reasons           text[] NOT NULL DEFAULT '{}',
    findings          jsonb NOT NULL DEFAULT '[]',
    rule_pack_version text NOT NULL,
    decision_micros   integer NOT NULL CHECK (decision_micros >= 0)
);
-- The audit queries: a customer's history, and everything of one outcome, newest first.
-- The id breaks ties so cursor pagination is stable when two rows share a timestamp.
CREATE INDEX decisions_customer_time ON decisions (customer_id, decided_at DESC, id DESC);
CREATE INDEX decisions_outcome_time ON decisions (outcome, decided_at DESC, id DESC);
CREATE INDEX decisions_time ON decisions (decided_at DESC, id DESC);
CREATE INDEX decisions_reasons ON decisions USING gin (reasons);

-- What the exchange answered to a forwarded call. A separate append-only row, because the
-- decision is committed before the call leaves and is never updated afterwards.
CREATE TABLE upstream_results (
    decision_id   uuid NOT NULL REFERENCES decisions (id),
    recorded_at   timestamptz NOT NULL,
    http_status   integer,
    error         text,
    upstream_micros integer NOT NULL CHECK (upstream_micros >= 0)
);
CREATE INDEX upstream_results_decision ON upstream_results (decision_id);

-- migrate:down
DROP TABLE upstream_results;
DROP TABLE decisions;
DROP TABLE api_keys;
DROP TABLE customers;
