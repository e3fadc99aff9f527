-- The two database roles of the gateway, with their passwords. Run by psql (15 or later)
-- as the cluster's administrator, in the gateway's database, before the first migration
-- and again whenever a password changes (it is idempotent):
--
--   POSTGRES_OWNER_PASSWORD=... POSTGRES_APP_PASSWORD=... \
--     psql "postgresql://ADMIN@HOST:5432/gateway" -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
--
-- docker compose runs it in its `db-roles` service. In Kubernetes, against a managed
-- Postgres, the DBA runs it once: the administrator's credentials stay out of the cluster.
--
-- * gateway_owner owns the database and so the schema: only the migrations connect as it
--   (GATEWAY_MIGRATION_DATABASE_URL). It is no superuser, so it cannot bypass the
--   append-only triggers unnoticed: disabling one is DDL on a table it owns.
-- * gateway_app is the runtime role the gateways connect as (GATEWAY_DATABASE_URL).
--   Migration 0003 grants it INSERT and SELECT on the audit log and nothing more; it is
--   created here first only so that it has a password (0003 creates it without one when
--   it is missing).
-- Passwords come from the environment, not the command line, so they stay out of `ps`.

\set ON_ERROR_STOP on
\getenv owner_password POSTGRES_OWNER_PASSWORD
\getenv app_password POSTGRES_APP_PASSWORD
\if :{?owner_password}
\else
    DO $$ BEGIN RAISE EXCEPTION 'POSTGRES_OWNER_PASSWORD is not set'; END $$;
\endif
\if :{?app_password}
\else
    DO $$ BEGIN RAISE EXCEPTION 'POSTGRES_APP_PASSWORD is not set'; END $$;
\endif

SELECT 'CREATE ROLE gateway_owner'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_owner') \gexec
SELECT 'CREATE ROLE gateway_app'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') \gexec

ALTER ROLE gateway_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'owner_password';
ALTER ROLE gateway_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'app_password';

-- The database's owner owns its public schema (Postgres 15+: pg_database_owner), so the
-- migrations may create tables there.
SELECT format('ALTER DATABASE %I OWNER TO gateway_owner', current_database()) \gexec
