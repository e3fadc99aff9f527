-- Deposits and withdrawals the AML windows count, per customer.
--
-- A row is written in the same transaction as the decision that let the movement through
-- (or held it), while the customer's advisory lock is held, so two replicas can never
-- both see room under a limit that only one movement fits in. Values in the currencies
-- the rules compared (KRW, USD, ...) are kept as they were on the day: a window sums
-- what was judged, not what today's price would say.

-- migrate:up
CREATE TABLE movements (
    id           bigserial PRIMARY KEY,
    customer_id  uuid        NOT NULL REFERENCES customers (id),
    decision_id  uuid        NOT NULL,
    direction    text        NOT NULL CHECK (direction IN ('deposit', 'withdrawal')),
    asset        text        NOT NULL,
    amount       numeric     NOT NULL CHECK (amount > 0),
    "values"     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at  timestamptz NOT NULL,
    -- A held withdrawal counts until a reviewer rejects it or it expires: a window that
    -- counts too much holds; one that counts too little lets a split withdrawal through.
    held         boolean     NOT NULL DEFAULT false,
    -- Deposits reported by the exchange carry its transaction id: reporting twice must
    -- not count twice.
    external_id  text,
    UNIQUE (decision_id),
    UNIQUE (customer_id, direction, external_id)
);
CREATE INDEX movements_customer_time ON movements (customer_id, occurred_at DESC);

GRANT SELECT, INSERT ON movements TO gateway_app;
GRANT USAGE, SELECT ON SEQUENCE movements_id_seq TO gateway_app;
REVOKE UPDATE, DELETE, TRUNCATE ON movements FROM gateway_app;

-- migrate:down
DROP TABLE movements;
