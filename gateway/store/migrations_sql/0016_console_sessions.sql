-- Compliance console sessions (gateway/http/console/session.py): a person signs in with
-- their admin token once and the browser holds a random session id in an HttpOnly cookie.
-- Kept here, not in a worker's memory, so a session survives a restart and every worker
-- (and replica) behind one port accepts it.
--
-- Only the SHA-256 of the session id is stored: a copy of this table signs nobody in.
-- The admin token itself is never stored; `actor` is the audit trail's label for it
-- (gateway.audit.events.admin_actor), so console actions name the same person as API calls.
-- A session ends at expires_at (absolute) or when last_seen_at is older than the idle
-- limit (GATEWAY_CONSOLE_IDLE_MINUTES, read when checked); ended rows are deleted in
-- bounded batches at sign-in (gateway/store/console_sessions.py), hence DELETE here.

-- migrate:up
CREATE TABLE console_sessions (
    digest       bytea       PRIMARY KEY CHECK (length(digest) = 32),
    role         text        NOT NULL CHECK (role IN ('auditor', 'operator', 'compliance_officer')),
    actor        text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    csrf_token   text        NOT NULL CHECK (length(csrf_token) BETWEEN 32 AND 128),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO gateway_app;
REVOKE TRUNCATE ON console_sessions FROM gateway_app;

-- migrate:down
DROP TABLE console_sessions;
