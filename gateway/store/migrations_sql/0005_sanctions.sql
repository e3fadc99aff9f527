-- Sanctioned-address list snapshots (gateway/sanctions.py).
--
-- * A snapshot is identified by the SHA-256 of its content (aml.sanctions.AddressList.id:
--   network and address as published, one a line, sorted), so the id a decision records
--   names exactly one list, and the same content loaded twice is the same row. The
--   gateway recomputes the hash from the rows whenever it reads a snapshot and refuses a
--   snapshot whose rows no longer hash to its id.
-- * Snapshots and their addresses are never changed once written: the runtime role may
--   insert and read them, not update them. Delisting is a newer snapshot without the
--   address, not an edit of an old one; a decision keeps naming the list it used.
-- * Which snapshot is in force is one pointer row, not a flag on every snapshot: switching
--   is one UPDATE that replicas see at once (each polls it every
--   GATEWAY_SANCTIONS_REFRESH_SECONDS), and "at most one current" holds by construction.
--   Every switch is also an audit event (list_snapshot.loaded), which is its history.
-- * `network` is the chain or list the address was published under (the OFAC files' asset
--   code, XBT, ETH, USDT, ...), NULL when the source did not say. Matching ignores it: one
--   key controls the same address on every EVM chain (see aml/sanctions.py).

-- migrate:up
CREATE TABLE sanctions_snapshots (
    id             text PRIMARY KEY CHECK (id ~ '^sha256:[0-9a-f]{64}$'),
    list_name      text NOT NULL CHECK (length(list_name) BETWEEN 1 AND 500),
    as_of          date NOT NULL,       -- the date of the source data, not of the load
    address_count  integer NOT NULL CHECK (address_count > 0),  -- distinct, as compared
    entry_count    integer NOT NULL CHECK (entry_count >= address_count),  -- (network, address) rows
    loaded_at      timestamptz NOT NULL,
    loaded_by      text NOT NULL
);

CREATE TABLE sanctions_addresses (
    snapshot_id  text NOT NULL REFERENCES sanctions_snapshots (id),
    network      text CHECK (network ~ '^[A-Z0-9]{1,16}$'),
    address      text NOT NULL,        -- as published (EIP-55 case kept)
    normalised   text NOT NULL,        -- the form compared: aml.sanctions.normalise(address).key
    format       text NOT NULL CHECK (format IN ('evm', 'hex', 'bech32', 'cashaddr', 'base58', 'opaque'))
);
-- One row per published (network, address); NULL networks compare equal here.
CREATE UNIQUE INDEX sanctions_addresses_entry
    ON sanctions_addresses (snapshot_id, coalesce(network, ''), address);
-- Comparing two snapshots (what a switch adds and delists) and looking one address up.
CREATE INDEX sanctions_addresses_normalised ON sanctions_addresses (snapshot_id, normalised);

CREATE TABLE sanctions_current (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    snapshot_id  text NOT NULL REFERENCES sanctions_snapshots (id),
    switched_at  timestamptz NOT NULL,
    switched_by  text NOT NULL
);

-- Granted explicitly rather than through 0003's default privileges, so the grants do not
-- depend on which role runs this migration; snapshots stay insert-only for the runtime role.
GRANT SELECT, INSERT ON sanctions_snapshots, sanctions_addresses TO gateway_app;
GRANT SELECT, INSERT, UPDATE ON sanctions_current TO gateway_app;
REVOKE UPDATE, DELETE, TRUNCATE ON sanctions_snapshots, sanctions_addresses FROM gateway_app;
REVOKE DELETE, TRUNCATE ON sanctions_current FROM gateway_app;

-- migrate:down
DROP TABLE sanctions_current;
DROP TABLE sanctions_addresses;
DROP TABLE sanctions_snapshots;
