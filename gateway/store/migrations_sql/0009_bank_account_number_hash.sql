-- A keyed hash of the account number alone (digits only), so a KRW withdrawal's
-- destination can be compared with the customer's own registered accounts without
-- opening any sealed number. The existing account_hash covers bank code and number as
-- typed, which a withdrawal address (the number only) cannot reproduce. Accounts added
-- before this migration have none and never match: they must be registered again, which
-- is the safe side of the real-name rule.

-- migrate:up
ALTER TABLE bank_accounts ADD COLUMN number_hash text;
CREATE INDEX bank_accounts_number_hash ON bank_accounts (customer_id, number_hash);

-- migrate:down
DROP INDEX bank_accounts_number_hash;
ALTER TABLE bank_accounts DROP COLUMN number_hash;
