-- Retro-screening (gateway/retro/): when a new sanctions snapshot lists addresses the one
-- before did not, the deposits and withdrawals of the last GATEWAY_SANCTIONS_LOOKBACK_DAYS
-- are screened against them in the background, and each hit opens an STR candidate.
--
-- * retro_scans: one durable job per switch of the pointer (sanctions_current), found by
--   the worker from the pointer itself, so every way of loading (CLI, admin API, start-up
--   bootstrap) gets one without the load knowing about it. The cursor (the last movement
--   scanned, by time and id) is committed with each batch, so a restart resumes where the
--   last committed batch ended. Only the state, cursor and counters ever change.
-- * retro_hits: one row per (movement, address) ever reported by a retro scan, written in
--   the transaction that opens its STR. The uniqueness is what keeps a batch redone after
--   a crash, or a later snapshot listing the same address again, from opening a second
--   STR for the same movement. Append-only, as the report history (0008).

-- migrate:up
CREATE TABLE retro_scans (
    id                    uuid PRIMARY KEY,
    snapshot_id           text NOT NULL REFERENCES sanctions_snapshots (id),
    -- The snapshot the last scan followed (NULL for the first): its addresses are not new.
    previous_snapshot_id  text REFERENCES sanctions_snapshots (id),
    switched_at           timestamptz NOT NULL,  -- sanctions_current.switched_at of the switch
    additions             integer NOT NULL CHECK (additions >= 0),
    lookback_from         timestamptz NOT NULL,
    -- After the switch by the time a lagging replica may still screen with the old list.
    lookback_to           timestamptz NOT NULL CHECK (lookback_to >= lookback_from),
    state                 text NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'running', 'done', 'failed')),
    cursor_at             timestamptz,
    cursor_id             bigint,
    scanned               bigint NOT NULL DEFAULT 0 CHECK (scanned >= 0),
    hits                  integer NOT NULL DEFAULT 0 CHECK (hits >= 0),
    created_at            timestamptz NOT NULL,
    started_at            timestamptz,
    finished_at           timestamptz,
    error                 text,
    UNIQUE (snapshot_id, switched_at),
    CHECK ((cursor_at IS NULL) = (cursor_id IS NULL)),
    CHECK ((state IN ('done', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX retro_scans_time ON retro_scans (created_at DESC, id DESC);
CREATE INDEX retro_scans_open ON retro_scans (switched_at, id) WHERE state IN ('pending', 'running');

CREATE TABLE retro_hits (
    scan_id      uuid NOT NULL REFERENCES retro_scans (id),
    movement_id  bigint NOT NULL REFERENCES movements (id),
    decision_id  uuid NOT NULL,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    direction    text NOT NULL CHECK (direction IN ('deposit', 'withdrawal')),
    occurred_at  timestamptz NOT NULL,
    address      text NOT NULL,           -- as the movement named it
    address_key  text NOT NULL,           -- aml.sanctions.normalise(address).key
    report_id    uuid NOT NULL REFERENCES report_candidates (id),
    found_at     timestamptz NOT NULL,
    PRIMARY KEY (scan_id, movement_id),
    UNIQUE (movement_id, address_key)
);

-- The scan's batches walk movements by time and id.
CREATE INDEX movements_time ON movements (occurred_at, id);

CREATE TRIGGER retro_hits_append_only BEFORE UPDATE OR DELETE ON retro_hits
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER retro_hits_no_truncate BEFORE TRUNCATE ON retro_hits
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER retro_scans_no_delete BEFORE DELETE ON retro_scans
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER retro_scans_no_truncate BEFORE TRUNCATE ON retro_scans
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Explicit, as 0005: the grants do not depend on which role runs this migration.
GRANT SELECT, INSERT, UPDATE ON retro_scans TO gateway_app;
GRANT SELECT, INSERT ON retro_hits TO gateway_app;
REVOKE DELETE, TRUNCATE ON retro_scans FROM gateway_app;
REVOKE UPDATE, DELETE, TRUNCATE ON retro_hits FROM gateway_app;

-- migrate:down
DROP INDEX movements_time;
DROP TABLE retro_hits;
DROP TABLE retro_scans;
