-- The audit trail (issue 6): the decision log becomes tamper-evident and append-only.
--
-- * A runtime role, gateway_app, separate from the owner that runs migrations. It may
--   INSERT and SELECT the log tables and nothing else on them: no UPDATE, DELETE or
--   TRUNCATE. A trigger refuses UPDATE/DELETE/TRUNCATE on the log tables whatever the
--   role, so even the owner must disable triggers (which is visible and needs ownership)
--   to alter a row; the hash chains then name the altered entry.
-- * Every log entry carries chain_id, seq, prev_hash and entry_hash (SHA-256 over a
--   canonical encoding of the row, computed by the appender; gateway/audit/canonical.py).
--   One chain per appender (a gateway process's decision writer, its admin event log, a
--   CLI run), declared in audit_chains before its first entry, so group commit never
--   waits on a shared head row and the verifier still knows every chain.
-- * The log tables are range-partitioned by month on their time column, so retention
--   drops whole partitions. audit_ensure_partitions() creates months ahead; a DEFAULT
--   partition catches anything outside them, so a missing partition can never make the
--   gateway fail closed.
-- Rows written before this migration are carried over without a chain (chain_id NULL):
-- they predate the tamper evidence, and the verifier counts them separately. A NOT VALID
-- check makes every new row chained.

-- migrate:up

-- Roles are cluster-wide: create it only if no other database of the cluster (or a DBA,
-- when the owner lacks CREATEROLE) did; the handler covers two migrations racing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') THEN
        CREATE ROLE gateway_app LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Which appender owns which chain. One row per chain, written in the same transaction as
-- the chain's first entry; never updated.
CREATE TABLE audit_chains (
    chain_id    uuid PRIMARY KEY,
    stream      text NOT NULL CHECK (stream IN ('decisions', 'upstream_results', 'audit_events')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    -- host:pid of a gateway process, or cli:user@host: for the operator reading the registry.
    writer      text NOT NULL
);

-- decisions: the same columns as 0001 plus the filters an auditor needs and the chain.
-- The primary key must contain the partition key, so it is (id, decided_at).
ALTER TABLE upstream_results DROP CONSTRAINT upstream_results_decision_id_fkey;
ALTER TABLE decisions RENAME TO decisions_0001;
ALTER INDEX decisions_pkey RENAME TO decisions_0001_pkey;
ALTER INDEX decisions_customer_time RENAME TO decisions_0001_customer_time;
ALTER INDEX decisions_outcome_time RENAME TO decisions_0001_outcome_time;
ALTER INDEX decisions_time RENAME TO decisions_0001_time;
ALTER INDEX decisions_reasons RENAME TO decisions_0001_reasons;

CREATE TABLE decisions (
    id                uuid NOT NULL,
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
    outcome           text NOT NULL
                      CHECK (outcome IN ('allow', 'allow_and_report', 'hold', 'deny')),
    reasons           text[] NOT NULL DEFAULT '{}',
    -- Rule ids of every finding, written by the writer, so the rule filter uses an index
    -- instead of digging through findings.
    rule_ids          text[] NOT NULL DEFAULT '{}',
    findings          jsonb NOT NULL DEFAULT '[]',
    rule_pack_version text NOT NULL,
    decision_micros   integer NOT NULL CHECK (decision_micros >= 0),
    -- Filled by later issues (country rules, review queue); NULL until then. A review
    -- decided later is a new log entry, never an update of this one.
    country           text CHECK (country ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'),
    review_status     text CHECK (review_status IN ('pending', 'approved', 'rejected', 'expired')),
    chain_id          uuid,
    seq               bigint CHECK (seq >= 1),
    prev_hash         bytea CHECK (length(prev_hash) = 32),
    entry_hash        bytea CHECK (length(entry_hash) = 32),
    PRIMARY KEY (id, decided_at)
) PARTITION BY RANGE (decided_at);

ALTER TABLE upstream_results RENAME TO upstream_results_0001;
ALTER INDEX upstream_results_decision RENAME TO upstream_results_0001_decision;
-- No foreign key to decisions: a partitioned decisions table has no unique id alone, and
-- the link is checked where it matters (the decision detail joins on it; the writer
-- writes a result only for a decision it committed).
CREATE TABLE upstream_results (
    decision_id     uuid NOT NULL,
    recorded_at     timestamptz NOT NULL,
    http_status     integer,
    error           text,
    upstream_micros integer NOT NULL CHECK (upstream_micros >= 0),
    chain_id        uuid,
    seq             bigint CHECK (seq >= 1),
    prev_hash       bytea CHECK (length(prev_hash) = 32),
    entry_hash      bytea CHECK (length(entry_hash) = 32)
) PARTITION BY RANGE (recorded_at);

-- Everything that is not a decision: admin actions on customers and keys, access to
-- unmasked personal data, checkpoints, retention drops; later review actions, report
-- changes, rule-pack switches and list-snapshot loads. details never holds personal data.
CREATE TABLE audit_events (
    id            uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,
    kind          text NOT NULL CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)+$'),
    actor         text NOT NULL,
    subject_type  text,
    subject_id    text,
    reason        text,
    details       jsonb NOT NULL DEFAULT '{}',
    chain_id      uuid NOT NULL,
    seq           bigint NOT NULL CHECK (seq >= 1),
    prev_hash     bytea NOT NULL CHECK (length(prev_hash) = 32),
    entry_hash    bytea NOT NULL CHECK (length(entry_hash) = 32),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

-- Signed checkpoints of the chain heads, as emitted (gateway/audit/checkpoint.py).
CREATE TABLE audit_checkpoints (
    id          uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    document    jsonb NOT NULL
);

CREATE TABLE decisions_default PARTITION OF decisions DEFAULT;
CREATE TABLE upstream_results_default PARTITION OF upstream_results DEFAULT;
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

-- Monthly partitions from `from_month` (default: this month) to `months_ahead` months
-- ahead, for every log table. SECURITY DEFINER so the runtime role can keep partitions
-- ahead of time without owning the tables; it can create empty partitions, nothing else.
-- A month whose rows already sit in the default partition is skipped with a warning
-- (moving them would need DELETE on the log); `default_rows` reports them.
CREATE FUNCTION audit_ensure_partitions(months_ahead integer, from_month date DEFAULT NULL)
RETURNS TABLE (created integer, default_rows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    parent text;
    first_month date := date_trunc('month', coalesce(from_month, (now() AT TIME ZONE 'UTC')::date));
    last_month date := date_trunc('month', (now() AT TIME ZONE 'UTC')::date)
                       + make_interval(months => months_ahead);
    month date;
    part text;
    n bigint;
BEGIN
    IF months_ahead NOT BETWEEN 0 AND 24 THEN
        RAISE EXCEPTION 'months_ahead must be 0..24, not %', months_ahead;
    END IF;
    IF first_month < last_month - interval '20 years' THEN
        RAISE EXCEPTION 'from_month % is too far back', from_month;
    END IF;
    -- Replicas start together; one of them creates, the others find the partitions made.
    PERFORM pg_advisory_xact_lock(7424971550123458817);
    created := 0;
    default_rows := 0;
    FOREACH parent IN ARRAY ARRAY['decisions', 'upstream_results', 'audit_events'] LOOP
        month := first_month;
        WHILE month <= last_month LOOP
            part := format('%s_p%s', parent, to_char(month, 'YYYYMM'));
            IF to_regclass(part) IS NULL THEN
                BEGIN
                    EXECUTE format(
                        'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent,
                        month::timestamp AT TIME ZONE 'UTC',
                        (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                    -- Row triggers are cloned from the parent; TRUNCATE triggers are not.
                    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT'
                                   ' EXECUTE FUNCTION audit_refuse_change()', part || '_no_truncate', part);
                    -- Default privileges would grant the runtime role rights on the
                    -- partition itself; it must go through the parent only.
                    EXECUTE format('REVOKE ALL ON %I FROM gateway_app', part);
                    created := created + 1;
                EXCEPTION WHEN check_violation THEN
                    RAISE WARNING 'partition % not created: rows of that month are in %_default',
                        part, parent;
                END;
            END IF;
            month := month + interval '1 month';
        END LOOP;
        EXECUTE format('SELECT count(*) FROM %I', parent || '_default') INTO n;
        default_rows := default_rows + n;
    END LOOP;
    RETURN NEXT;
END $$;

-- Carry rows over, into partitions that cover them.
SELECT audit_ensure_partitions(
    3,
    least((SELECT min(decided_at) FROM decisions_0001), (SELECT min(recorded_at) FROM upstream_results_0001))::date
);
INSERT INTO decisions (
    id, decided_at, request_id, customer_id, api_key_id, dialect, operation, action_kind, http_method, path,
    symbol, asset, side, order_type, quantity, price, notional, notional_asset, address, network,
    client_order_id, outcome, reasons, rule_ids, findings, rule_pack_version, decision_micros)
SELECT id, decided_at, request_id, customer_id, api_key_id, dialect, operation, action_kind, http_method, path,
       symbol, asset, side, order_type, quantity, price, notional, notional_asset, address, network,
       client_order_id, outcome, reasons,
       ARRAY(SELECT DISTINCT f ->> 'rule_id' FROM jsonb_array_elements(findings) f WHERE f ? 'rule_id'),
       findings, rule_pack_version, decision_micros
  FROM decisions_0001;
INSERT INTO upstream_results (decision_id, recorded_at, http_status, error, upstream_micros)
SELECT decision_id, recorded_at, http_status, error, upstream_micros FROM upstream_results_0001;
DROP TABLE upstream_results_0001;
DROP TABLE decisions_0001;

-- Every row from now on is chained (carried-over rows are exempt: NOT VALID).
ALTER TABLE decisions ADD CONSTRAINT decisions_chained
    CHECK (chain_id IS NOT NULL AND seq IS NOT NULL AND prev_hash IS NOT NULL AND entry_hash IS NOT NULL)
    NOT VALID;
ALTER TABLE upstream_results ADD CONSTRAINT upstream_results_chained
    CHECK (chain_id IS NOT NULL AND seq IS NOT NULL AND prev_hash IS NOT NULL AND entry_hash IS NOT NULL)
    NOT VALID;

-- The audit queries: a customer's history; one outcome; everything by time; reasons and
-- rule ids; the id breaks ties so cursor pagination is stable. (chain_id, seq) is the
-- verifier's walk and a writer's head lookup.
CREATE INDEX decisions_customer_time ON decisions (customer_id, decided_at DESC, id DESC);
CREATE INDEX decisions_outcome_time ON decisions (outcome, decided_at DESC, id DESC);
CREATE INDEX decisions_time ON decisions (decided_at DESC, id DESC);
CREATE INDEX decisions_reasons ON decisions USING gin (reasons);
CREATE INDEX decisions_rule_ids ON decisions USING gin (rule_ids);
CREATE INDEX decisions_chain ON decisions (chain_id, seq);
CREATE INDEX upstream_results_decision ON upstream_results (decision_id);
CREATE INDEX upstream_results_chain ON upstream_results (chain_id, seq);
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_subject ON audit_events (subject_type, subject_id, occurred_at DESC);
CREATE INDEX audit_events_chain ON audit_events (chain_id, seq);

-- Append-only whatever the role.
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER upstream_results_append_only BEFORE UPDATE OR DELETE ON upstream_results
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chains_append_only BEFORE UPDATE OR DELETE ON audit_chains
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'
           AND (c.relname IN ('decisions', 'upstream_results', 'audit_events', 'audit_chains',
                              'audit_checkpoints')
                OR c.oid IN (SELECT inhrelid FROM pg_inherits
                              WHERE inhparent IN ('decisions'::regclass, 'upstream_results'::regclass,
                                                  'audit_events'::regclass)))
           -- partitions made by audit_ensure_partitions above already have theirs
           AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = c.relname || '_no_truncate')
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION audit_refuse_change()', t || '_no_truncate', t);
    END LOOP;
END $$;

-- Grants. The runtime role reads and writes the ordinary tables, appends to the log
-- tables, and reaches partitions only through their parent.
GRANT USAGE ON SCHEMA public TO gateway_app;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO gateway_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO gateway_app;
REVOKE INSERT, UPDATE ON schema_migrations FROM gateway_app;
REVOKE ALL ON decisions, upstream_results, audit_events, audit_chains, audit_checkpoints FROM gateway_app;
GRANT SELECT, INSERT ON decisions, upstream_results, audit_events, audit_chains, audit_checkpoints
    TO gateway_app;
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT inhrelid::regclass FROM pg_inherits
              WHERE inhparent IN ('decisions'::regclass, 'upstream_results'::regclass, 'audit_events'::regclass)
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM gateway_app', t);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION audit_ensure_partitions(integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_ensure_partitions(integer, date) TO gateway_app;
-- Tables later migrations create are usable by the runtime role without a grant each;
-- a new log table must revoke UPDATE and add the append-only triggers (README recipe).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO gateway_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO gateway_app;

-- migrate:down
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE ON TABLES FROM gateway_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM gateway_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM gateway_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM gateway_app;
REVOKE ALL ON SCHEMA public FROM gateway_app;
DROP FUNCTION audit_ensure_partitions(integer, date);

-- Back to the 0001 shape, carrying rows back (the chain columns go).
CREATE TABLE decisions_0001 (
    id uuid NOT NULL, decided_at timestamptz NOT NULL, request_id text NOT NULL,
    customer_id uuid, api_key_id uuid, dialect text NOT NULL, operation text NOT NULL,
    action_kind text NOT NULL, http_method text NOT NULL, path text NOT NULL, symbol text,
    asset text, side text, order_type text, quantity numeric, price numeric, notional numeric,
    notional_asset text, address text, network text, client_order_id text,
    outcome text NOT NULL CHECK (outcome IN ('allow', 'allow_and_report', 'hold', 'deny')),
    reasons text[] NOT NULL DEFAULT '{}', findings jsonb NOT NULL DEFAULT '[]',
    rule_pack_version text NOT NULL, decision_micros integer NOT NULL CHECK (decision_micros >= 0)
);
INSERT INTO decisions_0001
SELECT id, decided_at, request_id, customer_id, api_key_id, dialect, operation, action_kind, http_method,
       path, symbol, asset, side, order_type, quantity, price, notional, notional_asset, address, network,
       client_order_id, outcome, reasons, findings, rule_pack_version, decision_micros
  FROM decisions;
CREATE TABLE upstream_results_0001 (
    decision_id uuid NOT NULL, recorded_at timestamptz NOT NULL, http_status integer, error text,
    upstream_micros integer NOT NULL CHECK (upstream_micros >= 0)
);
INSERT INTO upstream_results_0001
SELECT decision_id, recorded_at, http_status, error, upstream_micros FROM upstream_results;
DROP TABLE upstream_results;
DROP TABLE decisions;
DROP TABLE audit_events;
DROP TABLE audit_checkpoints;
DROP TABLE audit_chains;
DROP FUNCTION audit_refuse_change();

ALTER TABLE decisions_0001 RENAME TO decisions;
ALTER TABLE decisions ADD PRIMARY KEY (id);
ALTER TABLE decisions ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE decisions ADD FOREIGN KEY (api_key_id) REFERENCES api_keys (id);
CREATE INDEX decisions_customer_time ON decisions (customer_id, decided_at DESC, id DESC);
CREATE INDEX decisions_outcome_time ON decisions (outcome, decided_at DESC, id DESC);
CREATE INDEX decisions_time ON decisions (decided_at DESC, id DESC);
CREATE INDEX decisions_reasons ON decisions USING gin (reasons);
ALTER TABLE upstream_results_0001 RENAME TO upstream_results;
ALTER TABLE upstream_results ADD FOREIGN KEY (decision_id) REFERENCES decisions (id);
CREATE INDEX upstream_results_decision ON upstream_results (decision_id);
