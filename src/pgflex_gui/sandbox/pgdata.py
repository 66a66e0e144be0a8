"""Source data for end-to-end checks: four user databases generated server-side, and counts.

``seed_sql`` returns the scripts; they run over TCP as the server admin (a real SCRAM login),
so every object is owned by the admin as on Azure. ``table_counts`` counts rows exactly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pgflex_gui.sandbox.contract import DataPlaneError, ServerEndpoint
from pgflex_gui.sandbox.pgcluster import clean_env, conninfo_dbname, installed_majors

__all__ = [
    "AZURE_OWNED_DB",
    "BENCH_MIX",
    "POSTGRES_USER_SQL",
    "ROLES_SQL",
    "SEED_DATABASES",
    "base_rows",
    "bulk_sql",
    "seed_sql",
    "table_counts",
]

SEED_DATABASES = ("sales", "inventory", "hr", "analytics")
AZURE_OWNED_DB = "azure_owned_db"

# One query counting every user table exactly (schema-qualified name | count).
COUNTS_SQL = """
SELECT format('%s.%s', n.nspname, c.relname),
       (xpath('/row/c/text()', query_to_xml(
          format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')
       ))[1]::text::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1;
"""


def base_rows(scale: int) -> int:
    """Rows of the biggest tables: 5,000 at scale 0 (a few MB), 1,000,000 per scale unit.

    Scale 1 gives roughly 300-400 MB of table data across the four databases.
    """
    return 5_000 if scale <= 0 else 1_000_000 * scale


def seed_sql(db: str, *, scale: int, extensions: frozenset[str]) -> str:
    """The script that fills ``db`` (one of SEED_DATABASES); uses only available extensions."""
    n = base_rows(scale)
    customers = max(n // 10, 10)
    if db == "sales":
        digest = (
            "encode(digest(g::text, 'sha256'), 'hex')"
            if "pgcrypto" in extensions
            else "md5(g::text)"
        )
        ext = "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n" if "pgcrypto" in extensions else ""
        return f"""{ext}
CREATE SCHEMA sales;
CREATE TABLE sales.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text,
  created_at timestamptz NOT NULL);
INSERT INTO sales.customers (name, email, created_at)
  SELECT 'customer ' || g, 'c' || g || '@example.com',
         timestamptz '2024-01-01 00:00+00' + g * interval '1 minute'
  FROM generate_series(1, {customers}) g;
CREATE SEQUENCE sales.invoice_no START 1000;
CREATE TABLE sales.orders (
  id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES sales.customers,
  amount numeric(12,2) NOT NULL, note text, token text,
  invoice bigint NOT NULL DEFAULT nextval('sales.invoice_no'));
INSERT INTO sales.orders (id, customer_id, amount, note, token)
  SELECT g, 1 + g % {customers}, (g % 10000) / 100.0, repeat('order note ', 4), {digest}
  FROM generate_series(1, {n}) g;
CREATE INDEX orders_customer_idx ON sales.orders (customer_id);
CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE amount > 90;
GRANT USAGE ON SCHEMA sales TO sales_reader, app_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO sales_reader;
GRANT SELECT, INSERT, UPDATE ON sales.orders TO app_writer;
GRANT USAGE ON SEQUENCE sales.invoice_no TO app_writer;
ANALYZE;
"""
    if db == "inventory":
        ext = "CREATE EXTENSION IF NOT EXISTS hstore;\n" if "hstore" in extensions else ""
        attrs_type = "hstore" if "hstore" in extensions else "jsonb"
        attrs = (
            "hstore(ARRAY['color','size'], ARRAY[(ARRAY['red','green','blue'])[1 + g % 3], "
            "(g % 50)::text])"
            if "hstore" in extensions
            else "jsonb_build_object('color', (ARRAY['red','green','blue'])[1 + g % 3])"
        )
        return f"""{ext}
CREATE TABLE warehouses (id int PRIMARY KEY, city text NOT NULL);
INSERT INTO warehouses SELECT g, 'city ' || g FROM generate_series(1, 20) g;
CREATE TABLE items (
  sku text PRIMARY KEY, warehouse_id int NOT NULL REFERENCES warehouses, qty int NOT NULL,
  attrs {attrs_type});
INSERT INTO items SELECT 'SKU-' || lpad(g::text, 9, '0'), 1 + g % 20, g % 500, {attrs}
  FROM generate_series(1, {n // 2}) g;
CREATE INDEX items_warehouse_idx ON items (warehouse_id);
GRANT SELECT ON items TO sales_reader;
ANALYZE;
"""
    if db == "hr":
        return f"""
CREATE TABLE departments (id int PRIMARY KEY, name text UNIQUE NOT NULL);
INSERT INTO departments SELECT g, 'dept ' || g FROM generate_series(1, 25) g;
CREATE TABLE employees (
  id serial PRIMARY KEY, department_id int REFERENCES departments, full_name text NOT NULL,
  salary numeric(10,2), hired date);
INSERT INTO employees (department_id, full_name, salary, hired)
  SELECT 1 + g % 25, 'employee ' || g, 30000 + (g % 70000), date '2010-01-01' + g % 5000
  FROM generate_series(1, {max(n // 20, 100)}) g;
CREATE VIEW headcount AS
  SELECT d.name, count(*) AS people FROM employees e JOIN departments d ON d.id = e.department_id
  GROUP BY d.name;
ANALYZE;
"""
    if db == "analytics":
        return f"""
CREATE TABLE events (
  id bigserial PRIMARY KEY, ts timestamptz NOT NULL, kind text NOT NULL, payload jsonb);
INSERT INTO events (ts, kind, payload)
  SELECT timestamptz '2025-01-01 00:00+00' + g * interval '1 second',
         (ARRAY['view','click','buy'])[1 + g % 3],
         jsonb_build_object('user', g % 1000, 'value', g % 97)
  FROM generate_series(1, {n * 2}) g;
CREATE INDEX events_ts_idx ON events (ts);
CREATE MATERIALIZED VIEW daily AS
  SELECT date_trunc('day', ts) AS day, kind, count(*) AS n FROM events GROUP BY 1, 2;
ANALYZE;
"""
    raise ValueError(f"unknown seed database {db!r}")


# Benchmark mix: share of the dump bytes per database (not one giant, not four equal ones).
BENCH_MIX = {"analytics": 0.4, "sales": 0.3, "inventory": 0.2, "hr": 0.1}

# Bytes of a ``pg_dump -Fc -Z1`` archive per generated row, per bulk table (measured on PG 15).
_BULK_TABLES = (  # (suffix, share of the database's dump bytes, dump bytes per row)
    ("facts", 0.5, 32.0),
    ("lines", 0.3, 20.0),
    ("log", 0.2, 36.0),
)


def bulk_sql(db: str, dump_mb: float) -> str:
    """Extra tables for ``db`` giving about ``dump_mb`` MB of ``pg_dump -Fc -Z1`` archive.

    Realistic rather than uniform: per database a fact table (half the bytes, two secondary
    indexes), a line-item table (foreign key column indexed) and an append-only log, with
    hashes that compress like real identifiers. Runs after :func:`seed_sql` (any scale).
    """
    rows = {
        s: max(1000, int(dump_mb * 1e6 * share / per_row)) for s, share, per_row in _BULK_TABLES
    }
    p = f"{db}_bulk"
    return f"""
CREATE SCHEMA IF NOT EXISTS bulk;
CREATE TABLE bulk.{p}_facts (
  id bigint PRIMARY KEY, created_at timestamptz NOT NULL, account_id int NOT NULL,
  amount numeric(12,2) NOT NULL, status text NOT NULL, ref text NOT NULL);
INSERT INTO bulk.{p}_facts
  SELECT g, timestamptz '2023-01-01 00:00+00' + (g * 7919 % 31536000) * interval '1 second',
         g * 31 % 50000, (g * 17 % 1000000) / 100.0,
         (ARRAY['new','paid','shipped','closed','refunded'])[1 + g % 5], md5(g::text)
  FROM generate_series(1::bigint, {rows["facts"]}) g;
CREATE INDEX ON bulk.{p}_facts (account_id);
CREATE INDEX ON bulk.{p}_facts (created_at);
CREATE TABLE bulk.{p}_lines (
  id bigint PRIMARY KEY, fact_id bigint NOT NULL, sku text NOT NULL, qty int NOT NULL,
  price numeric(10,2) NOT NULL);
INSERT INTO bulk.{p}_lines
  SELECT g, 1 + g * 13 % {rows["facts"]}, 'SKU-' || lpad((g * 7 % 200000)::text, 7, '0'),
         1 + g % 9, (g * 37 % 100000) / 100.0
  FROM generate_series(1::bigint, {rows["lines"]}) g;
CREATE INDEX ON bulk.{p}_lines (fact_id);
CREATE TABLE bulk.{p}_log (
  id bigint PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL, detail text);
INSERT INTO bulk.{p}_log
  SELECT g, timestamptz '2024-01-01 00:00+00' + g * interval '250 milliseconds',
         'user' || (g % 977), 'changed ' || md5((g * 3)::text) || ' from ' || (g % 11)
  FROM generate_series(1::bigint, {rows["log"]}) g;
ANALYZE;
"""


# Roles created by the admin (CREATEROLE) before the databases are filled.
ROLES_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sales_reader') THEN
    CREATE ROLE sales_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_writer') THEN
    CREATE ROLE app_writer LOGIN;
  END IF;
END $$;
"""

AZURE_OWNED_SQL = """
CREATE TABLE maintenance_log (id int PRIMARY KEY, note text);
INSERT INTO maintenance_log SELECT g, 'entry ' || g FROM generate_series(1, 10) g;
"""


# What DBAs often leave in ``postgres``: a schema of their own with a table (made by the admin,
# who on a flexible server may create schemas there as a member of azure_pg_admin).
POSTGRES_USER_SQL = """
CREATE SCHEMA dba_tools;
CREATE TABLE dba_tools.runbook (id int PRIMARY KEY, step text NOT NULL);
INSERT INTO dba_tools.runbook SELECT g, 'step ' || g FROM generate_series(1, 12) g;
GRANT USAGE ON SCHEMA dba_tools TO sales_reader;
GRANT SELECT ON dba_tools.runbook TO sales_reader;
"""


def parse_counts(output: str) -> dict[str, int]:
    """Parse ``name|count`` lines from psql -A -t."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        if "|" in line:
            name, _, value = line.rpartition("|")
            counts[name] = int(value)
    return counts


def table_counts(
    endpoint: ServerEndpoint, db: str, *, user: str, password: str, psql: Path | None = None
) -> dict[str, int]:
    """Exact row counts of every user table in ``db`` (``schema.table`` → rows), over TCP."""
    if psql is None:
        psql = list(installed_majors().values())[-1] / "psql"
    proc = subprocess.run(
        [
            str(psql),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            endpoint.host,
            "-p",
            str(endpoint.port),
            "-U",
            user,
            "-d",
            conninfo_dbname(db),
        ],
        input=COUNTS_SQL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=clean_env(PGPASSWORD=password, PGCONNECT_TIMEOUT="10"),
    )
    if proc.returncode != 0:
        raise DataPlaneError("InternalServerError", proc.stderr.strip())
    return parse_counts(proc.stdout)
