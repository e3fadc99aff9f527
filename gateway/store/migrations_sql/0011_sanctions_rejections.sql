-- Entries of a sanctions list that were not stored (gateway/sanctions.py, issue 13).
--
-- * A source's entries are each validated against their network before anything is
--   stored (aml/addresses/entries.py). An entry that fails (a bad checksum, a case-folded
--   base58 address, the wrong length) refuses the whole load unless the operator asks for
--   `accept_partial`; then the valid entries are stored as a snapshot and every rejected one
--   is recorded here with it, so what is NOT screened is on record next to what is.
-- * The rejected entries are part of the snapshot's identity (its id hashes them too): the
--   same source loaded whole and loaded without its bad entries are two snapshots, never
--   one row silently standing for both.
-- * Like the other sanctions tables, insert-only for the runtime role: a rejection is
--   evidence of what a list in force did not cover.

-- migrate:up
CREATE TABLE sanctions_rejections (
    snapshot_id  text NOT NULL REFERENCES sanctions_snapshots (id),
    entry_index  integer NOT NULL CHECK (entry_index >= 0),  -- position in the source, from 0
    address      text NOT NULL CHECK (length(address) BETWEEN 1 AND 128),  -- as published
    network      text CHECK (network ~ '^[A-Z0-9]{1,16}$'),  -- as published; NULL when none
    problem      text NOT NULL CHECK (length(problem) BETWEEN 1 AND 500),
    PRIMARY KEY (snapshot_id, entry_index)
);

GRANT SELECT, INSERT ON sanctions_rejections TO gateway_app;
REVOKE UPDATE, DELETE, TRUNCATE ON sanctions_rejections FROM gateway_app;

-- migrate:down
DROP TABLE sanctions_rejections;
