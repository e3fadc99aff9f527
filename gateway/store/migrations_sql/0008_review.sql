-- The hold-and-review queue and report candidates (the AML issue).
--
-- * held_calls: a money-moving call the policy held, parked in the transaction of its
--   decision (id = the decision's id, which is also the withdrawal id the client was
--   given). It keeps the original call bytes-exact so an approval forwards exactly what
--   was decided on. Its state moves forward only (a trigger checks each transition), so a
--   rejected or expired hold can never be forwarded, and the original call can never be
--   edited after the decision.
-- * The decision row is append-only and keeps review_status NULL: the review is linked
--   by the decision id (held_calls.id), and decision_reviews derives the status from it.
-- * hold_history and report_history are append-only for the runtime role, like the
--   audit log (0003): every step with who, when and the note. Each review step is also an
--   audit event (gateway/audit/events.py), written in the same transaction.
-- * report_candidates: CTR/STR candidates opened by the policy's findings, filed or
--   dismissed by a compliance officer.

-- migrate:up
CREATE TABLE held_calls (
    id               uuid PRIMARY KEY,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    api_key_id       uuid REFERENCES api_keys (id),
    action_kind      text NOT NULL,
    asset            text,
    amount           numeric CHECK (amount > 0),
    address          text,
    network          text,
    http_method      text NOT NULL CHECK (http_method IN ('GET', 'POST', 'PUT', 'DELETE')),
    path             text NOT NULL CHECK (path LIKE '/%'),
    raw_query        text NOT NULL,
    body             bytea NOT NULL,
    content_type     text,
    findings         jsonb NOT NULL DEFAULT '[]',
    -- The client's withdrawOrderId, or one derived from the id: sent with every forward,
    -- so a forward retried after a crash or a lost answer is the same withdrawal.
    idempotency_key  text NOT NULL,
    key_added        boolean NOT NULL,  -- the gateway added the key (the client sent none)
    client_order_id  text,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'forwarding', 'forwarded', 'forward_failed',
                                      'rejected', 'expired')),
    held_at          timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL CHECK (expires_at > held_at),
    reviewed_by      text,
    reviewed_at      timestamptz,
    review_note      text CHECK (length(review_note) <= 1000),
    -- Who may forward now: a forwarder holds the lease until lease_until; after a crash
    -- the lease runs out and the sweep takes the call over.
    lease_until      timestamptz,
    forward_attempts integer NOT NULL DEFAULT 0 CHECK (forward_attempts >= 0),
    last_error       text,
    forwarded_at     timestamptz,
    upstream_status  integer,
    upstream_body    text,
    exchange_withdraw_id text,
    expired_at       timestamptz,
    updated_at       timestamptz NOT NULL,
    CHECK ((state = 'pending') = (reviewed_by IS NULL AND expired_at IS NULL)),
    CHECK (state NOT IN ('forwarding', 'forwarded', 'forward_failed', 'rejected')
           OR (reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL AND review_note IS NOT NULL))
);
-- The queue by state, newest first (the admin list), one customer's holds (withdraw
-- history), the expiry sweep and the forwarding sweep.
CREATE INDEX held_calls_state_time ON held_calls (state, held_at DESC, id DESC);
CREATE INDEX held_calls_customer_time ON held_calls (customer_id, held_at DESC, id DESC);
CREATE INDEX held_calls_time ON held_calls (held_at DESC, id DESC);
CREATE INDEX held_calls_expiry ON held_calls (expires_at) WHERE state = 'pending';
CREATE INDEX held_calls_lease ON held_calls (lease_until) WHERE state = 'forwarding';

-- Allowed moves; everything else (going back, leaving a final state, editing the call
-- that was decided on) is refused whatever the role.
CREATE FUNCTION held_calls_check_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.customer_id, NEW.api_key_id, NEW.action_kind, NEW.asset, NEW.amount,
        NEW.address, NEW.network, NEW.http_method, NEW.path, NEW.raw_query, NEW.body,
        NEW.content_type, NEW.findings, NEW.idempotency_key, NEW.key_added, NEW.held_at,
        NEW.expires_at)
       IS DISTINCT FROM
       (OLD.id, OLD.customer_id, OLD.api_key_id, OLD.action_kind, OLD.asset, OLD.amount,
        OLD.address, OLD.network, OLD.http_method, OLD.path, OLD.raw_query, OLD.body,
        OLD.content_type, OLD.findings, OLD.idempotency_key, OLD.key_added, OLD.held_at,
        OLD.expires_at) THEN
        RAISE EXCEPTION 'a held call is immutable: only its review state changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (OLD.state = NEW.state AND OLD.state = 'forwarding'
            OR OLD.state = 'pending' AND NEW.state IN ('forwarding', 'rejected', 'expired')
            OR OLD.state = 'forwarding' AND NEW.state IN ('forwarded', 'forward_failed')) THEN
        RAISE EXCEPTION 'held call %: % -> % is not allowed', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER held_calls_change BEFORE UPDATE ON held_calls
    FOR EACH ROW EXECUTE FUNCTION held_calls_check_change();
CREATE TRIGGER held_calls_no_delete BEFORE DELETE ON held_calls
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();

CREATE TABLE hold_history (
    hold_id     uuid NOT NULL REFERENCES held_calls (id),
    seq         bigserial,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL CHECK (action IN ('held', 'approved', 'rejected', 'expired',
                                               'forward_retry', 'forwarded', 'forward_failed')),
    from_state  text,
    to_state    text NOT NULL,
    note        text,
    details     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (hold_id, seq)
);

CREATE TABLE report_candidates (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('CTR', 'STR')),
    customer_id   uuid NOT NULL REFERENCES customers (id),
    decision_ids  uuid[] NOT NULL CHECK (cardinality(decision_ids) >= 1),
    rule_ids      text[] NOT NULL DEFAULT '{}',
    amount        numeric CHECK (amount >= 0),
    currency      text CHECK (currency ~ '^[A-Z0-9]{1,12}$'),
    details       jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'filed', 'dismissed')),
    opened_at     timestamptz NOT NULL,
    reviewed_by   text,
    reviewed_at   timestamptz,
    note          text CHECK (length(note) <= 1000),
    updated_at    timestamptz NOT NULL,
    CHECK ((status = 'open') = (reviewed_by IS NULL))
);
CREATE INDEX report_candidates_time ON report_candidates (opened_at DESC, id DESC);
CREATE INDEX report_candidates_customer_time ON report_candidates (customer_id, opened_at DESC, id DESC);
CREATE INDEX report_candidates_status_time ON report_candidates (status, opened_at DESC, id DESC);
CREATE INDEX report_candidates_decisions ON report_candidates USING gin (decision_ids);

CREATE FUNCTION report_candidates_check_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.kind, NEW.customer_id, NEW.decision_ids, NEW.rule_ids, NEW.amount,
        NEW.currency, NEW.details, NEW.opened_at)
       IS DISTINCT FROM
       (OLD.id, OLD.kind, OLD.customer_id, OLD.decision_ids, OLD.rule_ids, OLD.amount,
        OLD.currency, OLD.details, OLD.opened_at) THEN
        RAISE EXCEPTION 'a report candidate is immutable: only its status changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (OLD.status = 'open' AND NEW.status IN ('filed', 'dismissed')) THEN
        RAISE EXCEPTION 'report %: % -> % is not allowed', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER report_candidates_change BEFORE UPDATE ON report_candidates
    FOR EACH ROW EXECUTE FUNCTION report_candidates_check_change();
CREATE TRIGGER report_candidates_no_delete BEFORE DELETE ON report_candidates
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();

CREATE TABLE report_history (
    report_id    uuid NOT NULL REFERENCES report_candidates (id),
    seq          bigserial,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    note         text,
    PRIMARY KEY (report_id, seq)
);

-- Append-only whatever the role, as the audit log (0003).
CREATE TRIGGER hold_history_append_only BEFORE UPDATE OR DELETE ON hold_history
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER hold_history_no_truncate BEFORE TRUNCATE ON hold_history
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER report_history_append_only BEFORE UPDATE OR DELETE ON report_history
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER report_history_no_truncate BEFORE TRUNCATE ON report_history
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER held_calls_no_truncate BEFORE TRUNCATE ON held_calls
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER report_candidates_no_truncate BEFORE TRUNCATE ON report_candidates
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- A decision's review status, derived: the decision row itself is never updated.
CREATE VIEW decision_reviews AS
SELECT id AS decision_id,
       CASE state WHEN 'pending' THEN 'pending'
                  WHEN 'rejected' THEN 'rejected'
                  WHEN 'expired' THEN 'expired'
                  ELSE 'approved' END AS review_status,
       state AS hold_state
  FROM held_calls;

-- The runtime role gets new tables by default privileges (0003): SELECT, INSERT, UPDATE.
-- History is append-only; the queue rows are updated (state), never deleted.
REVOKE UPDATE, DELETE, TRUNCATE ON hold_history, report_history FROM gateway_app;
REVOKE DELETE, TRUNCATE ON held_calls, report_candidates FROM gateway_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON decision_reviews FROM gateway_app;

-- migrate:down
DROP VIEW decision_reviews;
DROP TABLE report_history;
DROP TABLE report_candidates;
DROP FUNCTION report_candidates_check_change();
DROP TABLE hold_history;
DROP TABLE held_calls;
DROP FUNCTION held_calls_check_change();
