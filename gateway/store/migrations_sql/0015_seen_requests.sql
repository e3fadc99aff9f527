-- Replayed requests: a signed state-changing call (order, cancel, withdrawal) is accepted
-- once. The signature covers the timestamp, and a call is stale once its recvWindow has
-- passed (gateway/binance/auth.py), so a digest only has to be remembered until then:
-- expires_at is the call's timestamp plus its recvWindow. After that the same bytes are
-- refused as stale whatever this table holds.
--
-- The check lives here, not in a replica's memory, so the same bytes sent to two replicas
-- are one call. The digest is inserted in the transaction that records the call's decision
-- (the group-commit batch, or the customer-locked transaction of a money call), so a call
-- is seen exactly when its decision is committed: the primary key is what makes two racing
-- copies one accepted call and one `replayed_request`.
--
-- Only a digest (SHA-256 of the API key id and the request as sent): no request content.
-- Pruned by expiry in bounded deletes (gateway/store/seen_requests.py), hence DELETE here.

-- migrate:up
CREATE TABLE seen_requests (
    digest     bytea       PRIMARY KEY CHECK (length(digest) = 32),
    expires_at timestamptz NOT NULL
);
CREATE INDEX seen_requests_expiry ON seen_requests (expires_at);
GRANT SELECT, INSERT, DELETE ON seen_requests TO gateway_app;
REVOKE UPDATE, TRUNCATE ON seen_requests FROM gateway_app;

-- migrate:down
DROP TABLE seen_requests;
