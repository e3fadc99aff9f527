-- Four-eyes review (GATEWAY_REVIEW_DUAL_CONTROL_ABOVE): a held call worth more than the
-- threshold in the home currency is released only on the approvals of two different
-- officers.
--
-- * held_calls keeps what the requirement was decided on, when the call was parked: its
--   home currency (the home pack's) and its value there (from the decision's valuation
--   finding; NULL when nothing valued it there, which dual control takes as above the
--   threshold) and the approvals it needs (1, or 2 under dual control). Fixed at
--   park, like the expiry: every gateway process, and every later reader, sees the same
--   rule for the hold, whatever a process's settings say at approval time.
-- * hold_approvals: one row per officer who approved, with the note. The primary key
--   (hold_id, actor) is what makes "two different officers" hold whatever the code does:
--   one officer approving twice is a unique violation. Append-only, as hold_history.
-- * A deferred constraint trigger refuses, at commit, any move out of pending into
--   forwarding or credited that the hold's approvals do not cover. Deferred, so the
--   conditional UPDATE that claims the hold and the approval row it adds may come in
--   either order inside the transaction.
-- * hold_history gets the action 'first_approval' (pending -> pending): an approval
--   recorded while the hold still waits for a second officer.

-- migrate:up
ALTER TABLE held_calls
    ADD COLUMN home_value numeric CHECK (home_value >= 0),
    ADD COLUMN home_currency text CHECK (home_currency ~ '^[A-Z0-9]{1,12}$'),
    ADD COLUMN approvals_required smallint NOT NULL DEFAULT 1 CHECK (approvals_required IN (1, 2)),
    ADD CONSTRAINT held_calls_home_value_currency CHECK (home_value IS NULL OR home_currency IS NOT NULL);

CREATE TABLE hold_approvals (
    hold_id  uuid NOT NULL REFERENCES held_calls (id),
    actor    text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    at       timestamptz NOT NULL,
    note     text NOT NULL CHECK (length(note) BETWEEN 1 AND 1000),
    PRIMARY KEY (hold_id, actor)
);

-- An approval is only ever given to a pending hold (the service checks under the hold's
-- row lock; this keeps any other path from adding one to a settled hold). The releasing
-- approval is written just after the UPDATE that released the hold, in its transaction:
-- updated_at = now() (the transaction's start) tells that hold from one settled before.
CREATE FUNCTION hold_approvals_check_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM held_calls WHERE id = NEW.hold_id
                    AND (state = 'pending' OR state IN ('forwarding', 'credited') AND updated_at = now())) THEN
        RAISE EXCEPTION 'hold %: an approval needs a pending hold', NEW.hold_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_approvals_insert BEFORE INSERT ON hold_approvals
    FOR EACH ROW EXECUTE FUNCTION hold_approvals_check_insert();
CREATE TRIGGER hold_approvals_append_only BEFORE UPDATE OR DELETE ON hold_approvals
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER hold_approvals_no_truncate BEFORE TRUNCATE ON hold_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON hold_approvals FROM gateway_app;

CREATE FUNCTION held_calls_check_approvals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    given integer;
BEGIN
    SELECT count(*) INTO given FROM hold_approvals WHERE hold_id = NEW.id;
    IF given < NEW.approvals_required THEN
        RAISE EXCEPTION 'held call %: % of % approvals, not released', NEW.id, given, NEW.approvals_required
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER held_calls_approved AFTER UPDATE ON held_calls
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state = 'pending' AND NEW.state IN ('forwarding', 'credited'))
    EXECUTE FUNCTION held_calls_check_approvals();

-- As 0013, plus: what the requirement was decided on is as immutable as the call.
CREATE OR REPLACE FUNCTION held_calls_check_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.customer_id, NEW.api_key_id, NEW.action_kind, NEW.asset, NEW.amount,
        NEW.address, NEW.network, NEW.http_method, NEW.path, NEW.raw_query, NEW.body,
        NEW.content_type, NEW.findings, NEW.idempotency_key, NEW.key_added, NEW.held_at,
        NEW.expires_at, NEW.home_value, NEW.home_currency, NEW.approvals_required)
       IS DISTINCT FROM
       (OLD.id, OLD.customer_id, OLD.api_key_id, OLD.action_kind, OLD.asset, OLD.amount,
        OLD.address, OLD.network, OLD.http_method, OLD.path, OLD.raw_query, OLD.body,
        OLD.content_type, OLD.findings, OLD.idempotency_key, OLD.key_added, OLD.held_at,
        OLD.expires_at, OLD.home_value, OLD.home_currency, OLD.approvals_required) THEN
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

ALTER TABLE hold_history DROP CONSTRAINT hold_history_action_check;
ALTER TABLE hold_history ADD CONSTRAINT hold_history_action_check
    CHECK (action IN ('held', 'first_approval', 'approved', 'rejected', 'expired', 'forward_retry',
                      'forwarded', 'forward_failed'));

-- migrate:down
ALTER TABLE hold_history DROP CONSTRAINT hold_history_action_check;
ALTER TABLE hold_history ADD CONSTRAINT hold_history_action_check
    CHECK (action IN ('held', 'approved', 'rejected', 'expired', 'forward_retry', 'forwarded',
                      'forward_failed'));
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
DROP TRIGGER held_calls_approved ON held_calls;
DROP FUNCTION held_calls_check_approvals();
DROP TABLE hold_approvals;
DROP FUNCTION hold_approvals_check_insert();
ALTER TABLE held_calls
    DROP CONSTRAINT held_calls_home_value_currency,
    DROP COLUMN approvals_required,
    DROP COLUMN home_currency,
    DROP COLUMN home_value;
