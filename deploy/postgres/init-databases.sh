#!/bin/sh
# Run once by the postgres image on an empty data directory
# (/docker-entrypoint-initdb.d): one role and one database per service, so
# neither service can read or change the other's tables.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
    -v payroll_password="$KVP_PAYROLL_DB_PASSWORD" \
    -v topup_password="$KVP_TOPUP_DB_PASSWORD" <<'SQL'
CREATE ROLE kvp_payroll LOGIN PASSWORD :'payroll_password';
CREATE DATABASE kvp_payroll OWNER kvp_payroll;
REVOKE ALL ON DATABASE kvp_payroll FROM PUBLIC;

CREATE ROLE kvp_topup LOGIN PASSWORD :'topup_password';
CREATE DATABASE kvp_topup OWNER kvp_topup;
REVOKE ALL ON DATABASE kvp_topup FROM PUBLIC;
SQL
