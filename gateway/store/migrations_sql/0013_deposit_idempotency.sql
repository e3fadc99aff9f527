-- Deposits reported once, whatever their outcome; held deposits reviewed without the exchange.
--
-- * deposit_reports: one row per deposit, keyed on the deposit itself (its network, its
--   transaction id and, where a chain has several outputs, the output index), written in
--   the transaction of its decision. Every later report with the same key answers that
--   decision (allow, deny or hold alike): a refused deposit leaves no movement, so keying
--   on movements let a retrying poller or a second replica make a new decision and a new
--   STR each time. The primary key is what makes two racing reports one decision. The
--   content compared on a repeat (customer, coin, amount, sending address) is kept so a
--   report that differs is a conflict, never a new decision; the address only as a keyed
--   hash (gateway/sealing.py), since the comparison needs equality, not the address.
-- * held_calls: a held deposit is parked for review like a withdrawal, but it has already
--   arrived: approving it forwards nothing to the exchange. It moves pending -> credited
--   (the officer released the funds to the customer; its history row is the officer's
--   'approved'), never to forwarding; rejecting it is the same rejected as a withdrawal's.

-- migrate:up
CREATE TABLE deposit_reports (
    network           text NOT NULL CHECK (network ~ '^[A-Z0-9]{1,20}$'),
    tx_id             text NOT NULL CHECK (length(tx_id) BETWEEN 1 AND 128),
    output_index      integer NOT NULL CHECK (output_index >= 0),
    customer_id       uuid NOT NULL REFERENCES customers (id),
    coin              text NOT NULL CHECK (coin ~ '^[A-Z0-9]{1,12}$'),
    amount            numeric NOT NULL CHECK (amount > 0),
    from_address_hash text,
    decision_id       uuid NOT NULL UNIQUE,
    outcome           text NOT NULL,
    reasons           text[] NOT NULL DEFAULT '{}',
    reported_at       timestamptz NOT NULL,
    PRIMARY KEY (network, tx_id, output_index)
);
GRANT SELECT, INSERT ON deposit_reports TO gateway_app;
REVOKE UPDATE, DELETE, TRUNCATE ON deposit_reports FROM gateway_app;

ALTER TABLE held_calls DROP CONSTRAINT held_calls_state_check;
ALTER TABLE held_calls ADD CONSTRAINT held_calls_state_check
    CHECK (state IN ('pending', 'forwarding', 'forwarded', 'forward_failed', 'rejected', 'expired',
                     'credited'));
ALTER TABLE held_calls DROP CONSTRAINT held_calls_check1;
ALTER TABLE held_calls ADD CONSTRAINT held_calls_check1
    CHECK (state NOT IN ('forwarding', 'forwarded', 'forward_failed', 'rejected', 'credited')
           OR (reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL AND review_note IS NOT NULL));

-- As 0008, plus: a deposit is credited, never forwarded; only a deposit is credited.
CREATE OR REPLACE FUNCTION held_calls_check_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
            OR OLD.state = 'pending' AND NEW.state IN ('rejected', 'expired')
            OR OLD.state = 'pending' AND NEW.state = 'forwarding' AND OLD.action_kind <> 'deposit_credit'
            OR OLD.state = 'pending' AND NEW.state = 'credited' AND OLD.action_kind = 'deposit_credit'
            OR OLD.state = 'forwarding' AND NEW.state IN ('forwarded', 'forward_failed')) THEN
        RAISE EXCEPTION 'held call %: % -> % is not allowed', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- migrate:down
CREATE OR REPLACE FUNCTION held_calls_check_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE held_calls DROP CONSTRAINT held_calls_check1;
ALTER TABLE held_calls ADD CONSTRAINT held_calls_check1
    CHECK (state NOT IN ('forwarding', 'forwarded', 'forward_failed', 'rejected')
           OR (reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL AND review_note IS NOT NULL));
ALTER TABLE held_calls DROP CONSTRAINT held_calls_state_check;
ALTER TABLE held_calls ADD CONSTRAINT held_calls_state_check
    CHECK (state IN ('pending', 'forwarding', 'forwarded', 'forward_failed', 'rejected', 'expired'));
DROP TABLE deposit_reports;
