-- Running window totals: what the AML windows count, summed per customer and UTC hour, so
-- a decision reads O(windows) rows instead of the customer's whole 30-day history.
--
-- A bucket is (customer, hour, direction, asset, currency). Currency '' holds every counted
-- movement of that hour (count, native amount); a currency row holds those valued in that
-- currency when they were judged (count, native amount, value): a window sums what was
-- judged, and values today only the amount nobody valued in that currency then.
-- Hours, not days: a rolling 24 h window ends mid-hour, and the gateway reads the few raw
-- movements of the three boundary hours (24 h, 7 d, 30 d back) instead of their buckets.
-- Every jurisdiction in rules/calendar.py has a whole-hour UTC offset, so an hour bucket
-- lies in one local day (cash reports per day).
--
-- Buckets are maintained here, by triggers, in the transaction that changes what counts,
-- whatever code path changes it: a movement inserted; a held call rejected, expired or
-- failed; a 4xx answer of the exchange recorded. As in the old full-history read
-- (gateway/store/movements.py), a movement counts unless refused, and among attempts with
-- one client order id (withdrawOrderId) only the first not refused counts. Every change is
-- a delta (+/- one movement) applied with ON CONFLICT ... DO UPDATE, so concurrent
-- changes commute and no lock is needed beyond the row's.

-- migrate:up
ALTER TABLE movements ADD COLUMN client_order_id text;
UPDATE movements m SET client_order_id = d.client_order_id
  FROM decisions d
 WHERE d.customer_id = m.customer_id AND d.decided_at = m.occurred_at AND d.id = m.decision_id
   AND d.client_order_id IS NOT NULL;
-- The attempts of one call: the client order id, or the movement's own decision.
CREATE INDEX movements_attempts
    ON movements (customer_id, direction, (coalesce(client_order_id, decision_id::text)), occurred_at);
CREATE INDEX movements_decision ON movements (decision_id);

CREATE TABLE movement_buckets (
    customer_id uuid        NOT NULL,
    hour        timestamptz NOT NULL,
    direction   text        NOT NULL,
    asset       text        NOT NULL,
    currency    text        NOT NULL,
    count       bigint      NOT NULL,
    amount      numeric     NOT NULL,
    value       numeric     NOT NULL,
    PRIMARY KEY (customer_id, hour, direction, asset, currency)
);

CREATE FUNCTION movement_refused(m movements) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (m.held AND EXISTS (
               SELECT 1 FROM held_calls h
                WHERE h.id = m.decision_id AND h.state IN ('rejected', 'expired', 'forward_failed')))
        OR EXISTS (SELECT 1 FROM upstream_results u
                    WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)
$$;

-- The attempt that counts in a group; `flipped`: movements whose refusal this statement
-- changed, taken as they were before it (refused then, or not yet there).
CREATE FUNCTION movement_counted(p_customer uuid, p_direction text, p_key text, flipped bigint[])
RETURNS movements LANGUAGE sql STABLE AS $$
    SELECT m.* FROM movements m
     WHERE m.customer_id = p_customer AND m.direction = p_direction
       AND coalesce(m.client_order_id, m.decision_id::text) = p_key
       AND movement_refused(m) = (m.id = ANY (flipped))
     ORDER BY m.occurred_at, m.id
     LIMIT 1
$$;

CREATE FUNCTION movement_bucket_add(m movements, sign integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO movement_buckets AS b (customer_id, hour, direction, asset, currency, count, amount, value)
    SELECT m.customer_id, date_trunc('hour', m.occurred_at, 'UTC'), m.direction, m.asset,
           c.currency, sign, sign * m.amount, sign * c.value
      FROM (SELECT ''::text AS currency, 0::numeric AS value
            UNION ALL
            SELECT key, value::numeric FROM jsonb_each_text(m."values")) c
    ON CONFLICT (customer_id, hour, direction, asset, currency) DO UPDATE
       SET count = b.count + excluded.count,
           amount = b.amount + excluded.amount,
           value = b.value + excluded.value
$$;

-- For each group a flipped movement belongs to: take out the attempt that counted before,
-- put in the one that counts now (often none, or the same one).
CREATE FUNCTION movement_buckets_recount(flipped bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    grp record;
    before movements;
    after movements;
BEGIN
    IF flipped IS NULL OR cardinality(flipped) = 0 THEN
        RETURN;
    END IF;
    FOR grp IN SELECT DISTINCT customer_id, direction, coalesce(client_order_id, decision_id::text) AS key
                 FROM movements WHERE id = ANY (flipped) LOOP
        before := movement_counted(grp.customer_id, grp.direction, grp.key, flipped);
        after := movement_counted(grp.customer_id, grp.direction, grp.key, '{}');
        IF before.id IS DISTINCT FROM after.id THEN
            IF before.id IS NOT NULL THEN
                PERFORM movement_bucket_add(before, -1);
            END IF;
            IF after.id IS NOT NULL THEN
                PERFORM movement_bucket_add(after, 1);
            END IF;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION movements_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM movement_buckets_recount(ARRAY(SELECT n.id FROM inserted n));
    RETURN NULL;
END
$$;
CREATE TRIGGER movement_buckets_on_insert AFTER INSERT ON movements
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION movements_inserted();

-- A held call that stops counting: rejected, expired, failed at the exchange. (A 4xx
-- recorded for it first had already taken it out.)
CREATE FUNCTION held_calls_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM movement_buckets_recount(ARRAY(
        SELECT m.id FROM new_rows n
          JOIN old_rows o ON o.id = n.id
          JOIN movements m ON m.decision_id = n.id AND m.held
         WHERE n.state IN ('rejected', 'expired', 'forward_failed')
           AND o.state NOT IN ('rejected', 'expired', 'forward_failed')
           AND NOT EXISTS (SELECT 1 FROM upstream_results u
                            WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)));
    RETURN NULL;
END
$$;
CREATE TRIGGER movement_buckets_on_refusal AFTER UPDATE ON held_calls
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION held_calls_refused();

-- The exchange refused a forwarded call outright (4xx): the money never left. Only the
-- first 4xx of a movement flips it; one already refused as a held call stays refused.
CREATE FUNCTION upstream_results_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM movement_buckets_recount(ARRAY(
        SELECT m.id FROM (SELECT decision_id, count(*) AS n FROM inserted
                           WHERE http_status BETWEEN 400 AND 499 GROUP BY decision_id) r
          JOIN movements m ON m.decision_id = r.decision_id
         WHERE NOT (m.held AND EXISTS (
                   SELECT 1 FROM held_calls h
                    WHERE h.id = m.decision_id AND h.state IN ('rejected', 'expired', 'forward_failed')))
           AND r.n = (SELECT count(*) FROM upstream_results u
                       WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)));
    RETURN NULL;
END
$$;
CREATE TRIGGER movement_buckets_on_upstream AFTER INSERT ON upstream_results
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION upstream_results_refused();

-- What is already recorded: every movement that counts today, into its bucket.
INSERT INTO movement_buckets (customer_id, hour, direction, asset, currency, count, amount, value)
SELECT m.customer_id, date_trunc('hour', m.occurred_at, 'UTC'), m.direction, m.asset, c.currency,
       count(*), sum(m.amount), sum(c.value)
  FROM movements m
  CROSS JOIN LATERAL (SELECT ''::text AS currency, 0::numeric AS value
                      UNION ALL
                      SELECT key, value::numeric FROM jsonb_each_text(m."values")) c
 WHERE m.id = (movement_counted(m.customer_id, m.direction,
                                coalesce(m.client_order_id, m.decision_id::text), '{}')).id
 GROUP BY 1, 2, 3, 4, 5;

GRANT SELECT, INSERT, UPDATE ON movement_buckets TO gateway_app;
REVOKE DELETE, TRUNCATE ON movement_buckets FROM gateway_app;

-- migrate:down
DROP TRIGGER movement_buckets_on_upstream ON upstream_results;
DROP TRIGGER movement_buckets_on_refusal ON held_calls;
DROP TRIGGER movement_buckets_on_insert ON movements;
DROP FUNCTION upstream_results_refused();
DROP FUNCTION held_calls_refused();
DROP FUNCTION movements_inserted();
DROP FUNCTION movement_buckets_recount(bigint[]);
DROP FUNCTION movement_bucket_add(movements, integer);
DROP FUNCTION movement_counted(uuid, text, text, bigint[]);
DROP FUNCTION movement_refused(movements);
DROP TABLE movement_buckets;
DROP INDEX movements_decision;
DROP INDEX movements_attempts;
ALTER TABLE movements DROP COLUMN client_order_id;
