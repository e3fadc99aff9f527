-- Country rules: where a customer lives and which passport they hold select the rules
-- that apply to them; rule-pack versions are kept so decisions can name, diff and replay
-- the exact rules that decided them.

-- migrate:up
ALTER TABLE customers
    ADD COLUMN residence_country text CHECK (residence_country ~ '^[A-Z]{2}$'),
    -- A US state (or another country's region) where rules differ within the country.
    ADD COLUMN residence_region  text CHECK (residence_region ~ '^[A-Z]{2}$'),
    ADD COLUMN nationality       text CHECK (nationality ~ '^[A-Z]{2}$'),
    ADD COLUMN customer_type     text NOT NULL DEFAULT 'individual'
                                 CHECK (customer_type IN ('individual', 'corporate'));

-- One row per distinct pack content ever loaded by any replica; never updated.
CREATE TABLE rule_pack_versions (
    version    text PRIMARY KEY,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    content    jsonb NOT NULL
);

-- migrate:down
DROP TABLE rule_pack_versions;
ALTER TABLE customers
    DROP COLUMN customer_type,
    DROP COLUMN nationality,
    DROP COLUMN residence_region,
    DROP COLUMN residence_country;
