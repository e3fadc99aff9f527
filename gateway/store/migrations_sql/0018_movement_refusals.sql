-- A movement's refusal as a row of its own, written once, when the movement stops counting.
--
-- Until now "refused" was worked out each time it was asked (migration 0014,
-- movement_refused): a lookup in held_calls and one in every partition of
-- upstream_results. Every window read asks it of each boundary-hour and structuring-band
-- movement, and every movement's insert trigger asks it twice; its plan and its probes
-- grow with the number of partitions, i.e. with how long the log is kept. Measured on a
-- withdrawal load (5 partitions): 0.7 ms per question, most of the movement insert's 2.9 ms.
--
-- The triggers that make a movement refused (a held call rejected, expired or failed; the
-- first 4xx the exchange answered for it) now also record it here, in the same statement,
-- and `movement_refused` is one primary-key probe. The row is the refusal's one record:
-- ON CONFLICT DO NOTHING makes a second refusal of the same movement (a 4xx for a held
-- call already rejected, two replicas recording at once) wait for the first and then flip
-- nothing, where the old test could let both count the flip.

-- migrate:up
CREATE TABLE movement_refusals (
    movement_id bigint      PRIMARY KEY REFERENCES movements (id),
    refused_at  timestamptz NOT NULL DEFAULT now()
);

-- What is refused already, by the rule it replaces.
INSERT INTO movement_refusals (movement_id)
SELECT m.id FROM movements m
 WHERE (m.held AND EXISTS (
           SELECT 1 FROM held_calls h
            WHERE h.id = m.decision_id AND h.state IN ('rejected', 'expired', 'forward_failed')))
    OR EXISTS (SELECT 1 FROM upstream_results u
                WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499);

CREATE OR REPLACE FUNCTION movement_refused(m movements) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM movement_refusals r WHERE r.movement_id = m.id)
$$;

-- Record the refusals; recount only the movements this statement refused first.
CREATE FUNCTION movements_refuse(candidates bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    refused bigint[];
BEGIN
    IF candidates IS NULL OR cardinality(candidates) = 0 THEN
        RETURN;
    END IF;
    WITH first AS (
        INSERT INTO movement_refusals (movement_id)
        SELECT DISTINCT unnest(candidates)
        ON CONFLICT (movement_id) DO NOTHING
        RETURNING movement_id)
    SELECT array_agg(movement_id) INTO refused FROM first;
    -- Counted with these as they were before (not refused): movement_buckets_recount.
    PERFORM movement_buckets_recount(refused);
END
$$;

CREATE OR REPLACE FUNCTION held_calls_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM movements_refuse(ARRAY(
        SELECT m.id FROM new_rows n
          JOIN old_rows o ON o.id = n.id
          JOIN movements m ON m.decision_id = n.id AND m.held
         WHERE n.state IN ('rejected', 'expired', 'forward_failed')
           AND o.state NOT IN ('rejected', 'expired', 'forward_failed')));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION upstream_results_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM movements_refuse(ARRAY(
        SELECT m.id FROM inserted r
          JOIN movements m ON m.decision_id = r.decision_id
         WHERE r.http_status BETWEEN 400 AND 499));
    RETURN NULL;
END
$$;

-- A movement that is the only attempt of its call simply counts (it is new, so not
-- refused, and nothing counted before it): added to its buckets here, set-based, with the
-- plan kept for the session. Only a retried client order id takes the general recount.
CREATE OR REPLACE FUNCTION movements_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    retried bigint[];
BEGIN
    retried := ARRAY(
        SELECT n.id FROM inserted n
         WHERE EXISTS (SELECT 1 FROM movements o
                        WHERE o.customer_id = n.customer_id AND o.direction = n.direction
                          AND coalesce(o.client_order_id, o.decision_id::text)
                              = coalesce(n.client_order_id, n.decision_id::text)
                          AND o.id <> n.id));
    INSERT INTO movement_buckets AS b (customer_id, hour, direction, asset, currency, count, amount, value)
    SELECT n.customer_id, date_trunc('hour', n.occurred_at, 'UTC'), n.direction, n.asset, c.currency,
           count(*), sum(n.amount), sum(c.value)
      FROM inserted n
     CROSS JOIN LATERAL (SELECT ''::text AS currency, 0::numeric AS value
                         UNION ALL
                         SELECT key, value::numeric FROM jsonb_each_text(n."values")) c
     WHERE n.id <> ALL (retried)
     GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (customer_id, hour, direction, asset, currency) DO UPDATE
       SET count = b.count + excluded.count,
           amount = b.amount + excluded.amount,
           value = b.value + excluded.value;
    PERFORM movement_buckets_recount(retried);
    RETURN NULL;
END
$$;

GRANT SELECT, INSERT ON movement_refusals TO gateway_app;
REVOKE UPDATE, DELETE, TRUNCATE ON movement_refusals FROM gateway_app;

-- migrate:down
CREATE OR REPLACE FUNCTION movements_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM movement_buckets_recount(ARRAY(SELECT n.id FROM inserted n));
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION upstream_results_refused() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION held_calls_refused() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION movements_refuse(bigint[]);
CREATE OR REPLACE FUNCTION movement_refused(m movements) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (m.held AND EXISTS (
               SELECT 1 FROM held_calls h
                WHERE h.id = m.decision_id AND h.state IN ('rejected', 'expired', 'forward_failed')))
        OR EXISTS (SELECT 1 FROM upstream_results u
                    WHERE u.decision_id = m.decision_id AND u.http_status BETWEEN 400 AND 499)
$$;
DROP TABLE movement_refusals;
