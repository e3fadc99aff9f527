-- Replay (issue 4): a decision keeps the facts it was decided on, so it can be decided
-- again under another rule-pack version (gateway/replay.py).
--
-- * `facts` is a versioned JSON document written by gateway/facts_codec.py: the Facts the
--   pipeline read (market catalog cut down to the action's own market and assets) and the
--   Action fields that have no column of their own. No national id, date of birth or bank
--   account number: the facts carry derived values only (an age, booleans about the
--   account), and the codec masks such keys if a later fact ever holds one.
-- * The column is part of the hashed entry (gateway/audit/streams.py), but only when it
--   is not NULL: rows chained before this migration have no facts, and their entry hash
--   was computed without the column, so they still verify. Setting facts on such a row,
--   or clearing it on a newer one, changes what the row hashes to and is caught.
-- * NULL, never a default: a decision without facts (written before this migration, or a
--   call too malformed to gather any) is reported by replay as not replayable, never
--   guessed.
-- ADD COLUMN on the partitioned parent reaches every partition; no row is rewritten, so
-- the append-only triggers are not involved.

-- migrate:up
ALTER TABLE decisions ADD COLUMN facts jsonb;

-- migrate:down
ALTER TABLE decisions DROP COLUMN facts;
