-- Curfew's database role: its managed identity signs in with a Microsoft Entra token, no password.
-- Run once, as the server's Entra admin (postgresEntraAdminName), against the `postgres` database
-- (pgaadauth_* lives there), with the deployment's outputs (docs/deploy.md step 6):
--
--   psql "host=$PGHOST dbname=postgres user=$PGADMIN sslmode=require" \
--     -v role="$DB_ROLE" -v oid="$IDENTITY_PRINCIPAL_ID" -f infra/db-role.sql
--
-- Rights: sign in, connect to the `curfew` database, and create and own its tables in schema public
-- (Curfew applies its migrations at start). Not an admin, no other database, no role management.

SELECT * FROM pgaadauth_create_principal_with_oid(:'role', :'oid', 'service', false, false);
GRANT CONNECT, TEMPORARY ON DATABASE curfew TO :"role";
\connect curfew
GRANT USAGE, CREATE ON SCHEMA public TO :"role";
