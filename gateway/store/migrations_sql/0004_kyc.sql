-- Real-name KYC: identity records, their verification, and Korean real-name bank accounts.
-- Everything personal (names, date of birth, contact, id and document numbers, account
-- numbers, holder names) is one AES-GCM sealed document per row, bound to its row, with
-- the key in settings, never in the database. Only what rules and duplicate detection
-- need stays in clear, and nothing personal among it: types, flags, dates of expiry,
-- and keyed hashes. Every change is kept: the history tables are append-only.

-- migrate:up
CREATE TABLE kyc_identities (
    customer_id       uuid PRIMARY KEY REFERENCES customers (id),
    version           integer NOT NULL CHECK (version >= 1),
    sealed            bytea NOT NULL,
    -- HMAC of country:type:number under a key derived from the secret key: the same
    -- person registered under two customers is refused without storing the number.
    national_id_hash  text UNIQUE,
    national_id_type  text,
    document_expiry   date,
    pep               boolean NOT NULL,
    risk_rating       text NOT NULL CHECK (risk_rating IN ('low', 'medium', 'high')),
    updated_at        timestamptz NOT NULL,
    updated_by        text NOT NULL
);

CREATE TABLE kyc_identity_history (
    customer_id       uuid NOT NULL REFERENCES customers (id),
    version           integer NOT NULL,
    sealed            bytea NOT NULL,
    national_id_hash  text,
    changed_at        timestamptz NOT NULL,
    changed_by        text NOT NULL,
    PRIMARY KEY (customer_id, version)
);

CREATE TABLE kyc_verifications (
    customer_id   uuid PRIMARY KEY REFERENCES customers (id),
    status        text NOT NULL CHECK (status IN ('pending', 'verified', 'rejected', 'expired')),
    level         text,
    verified_by   text,
    verified_at   timestamptz,
    valid_until   date,
    note          text,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE kyc_verification_history (
    customer_id   uuid NOT NULL REFERENCES customers (id),
    seq           bigserial,
    at            timestamptz NOT NULL,
    by_whom       text NOT NULL,
    from_status   text,
    to_status     text NOT NULL,
    level         text,
    note          text,
    PRIMARY KEY (customer_id, seq)
);

CREATE TABLE bank_accounts (
    id                   uuid PRIMARY KEY,
    customer_id          uuid NOT NULL REFERENCES customers (id),
    currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    bank_code            text NOT NULL,
    partner_bank         boolean NOT NULL,
    sealed               bytea NOT NULL,  -- account number and holder name
    account_hash         text NOT NULL,
    holder_confirmed     boolean NOT NULL,
    holder_name_matches  boolean NOT NULL,
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at           timestamptz NOT NULL,
    created_by           text NOT NULL,
    UNIQUE (customer_id, account_hash)
);
CREATE INDEX bank_accounts_customer ON bank_accounts (customer_id) WHERE status = 'active';

-- The runtime role (0003) gets new tables by default privileges; history stays append-only.
REVOKE UPDATE, DELETE, TRUNCATE ON kyc_identity_history, kyc_verification_history FROM gateway_app;

-- migrate:down
DROP TABLE bank_accounts;
DROP TABLE kyc_verification_history;
DROP TABLE kyc_verifications;
DROP TABLE kyc_identity_history;
DROP TABLE kyc_identities;
