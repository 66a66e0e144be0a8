"""Cleaning a pg_dumpall --roles-only file for a flexible server."""

from pathlib import Path

from pgflex_gui.postgres.dumps import DumpKind, classify
from pgflex_gui.postgres.roles import sanitize_roles, sanitize_roles_file

# A roles dump taken from a flexible server (pg_dumpall 16 style), plus a community
# server's postgres role and an Entra principal.
ROLES_SQL = """--
-- PostgreSQL database cluster dump
--

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE app_owner;
ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE azure_pg_admin;
ALTER ROLE azure_pg_admin WITH NOSUPERUSER NOINHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE azuresu;
ALTER ROLE azuresu WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE "dba@contoso.com";
ALTER ROLE "dba@contoso.com" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE localadmin;
ALTER ROLE localadmin WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE myadmin;
ALTER ROLE myadmin WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE "Reporting Team";
ALTER ROLE "Reporting Team" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE replication;
ALTER ROLE replication WITH NOSUPERUSER NOINHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS;
CREATE ROLE writer;
ALTER ROLE writer WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$NOSUPERUSER:BYPASSRLS';
COMMENT ON ROLE azuresu IS 'service';
SECURITY LABEL FOR "pgaadauth" ON ROLE "dba@contoso.com" IS 'aadauth,oid=00000000-0000-0000-0000-000000000001,type=user';

--
-- User Configurations
--

ALTER ROLE app_owner SET search_path TO 'app', 'public';

--
-- Role memberships
--

GRANT azure_pg_admin TO myadmin WITH INHERIT TRUE GRANTED BY azuresu;
GRANT "Reporting Team" TO writer WITH INHERIT TRUE GRANTED BY myadmin;
GRANT pg_read_all_data TO "Reporting Team" GRANTED BY azuresu;
GRANT replication TO app_owner GRANTED BY azuresu;

--
-- PostgreSQL database cluster dump complete
--
"""


def test_service_admin_and_entra_roles_are_left_out() -> None:
    result = sanitize_roles(ROLES_SQL, exclude=["myadmin"])
    assert result.kept_roles == ("app_owner", "Reporting Team", "writer")
    assert result.entra_roles == ("dba@contoso.com",)
    for gone in ("azuresu", "azure_pg_admin", "localadmin", "myadmin", "dba@contoso.com"):
        assert gone not in result.sql
    assert "CREATE ROLE postgres" not in result.sql
    assert "CREATE ROLE replication" not in result.sql
    assert "GRANT replication" not in result.sql
    reasons = " ".join(d.reason for d in result.dropped_lines)
    assert "Entra" in reasons


def test_forbidden_attributes_are_stripped_but_passwords_untouched() -> None:
    result = sanitize_roles(ROLES_SQL)
    role_lines = [ln for ln in result.sql.splitlines() if ln.startswith("ALTER ROLE")]
    for line in role_lines:
        head = line.split("'", 1)[0]
        for attr in ("SUPERUSER", "BYPASSRLS", "REPLICATION"):
            assert attr not in head, line
    assert (
        "ALTER ROLE app_owner WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN;"
        in result.sql.splitlines()
    )
    # The password hash happens to contain attribute words: it must survive as is.
    assert "'SCRAM-SHA-256$4096:c2FsdA==$NOSUPERUSER:BYPASSRLS'" in result.sql
    assert result.has_passwords
    assert result.login_roles_without_password == ("app_owner", "myadmin")
    assert result.needs_passwords


def test_grants_lose_granted_by_and_keep_user_memberships() -> None:
    lines = sanitize_roles(ROLES_SQL).sql.splitlines()
    assert 'GRANT "Reporting Team" TO writer WITH INHERIT TRUE;' in lines
    assert 'GRANT pg_read_all_data TO "Reporting Team";' in lines
    assert not any("GRANTED BY" in ln for ln in lines)
    assert "ALTER ROLE app_owner SET search_path TO 'app', 'public';" in lines
    assert "SET client_encoding = 'UTF8';" in lines


def test_azure_style_file_without_passwords() -> None:
    sql = "CREATE ROLE a;\nALTER ROLE a WITH NOSUPERUSER INHERIT LOGIN NOBYPASSRLS;\n"
    result = sanitize_roles(sql)
    assert not result.has_passwords
    assert result.sql == "CREATE ROLE a;\nALTER ROLE a WITH INHERIT LOGIN;\n"
    assert result.login_roles_without_password == ("a",)


def test_file_copy_keeps_the_raw(tmp_path: Path) -> None:
    raw = tmp_path / "Roles.sql"
    raw.write_text(ROLES_SQL)
    clean = tmp_path / "Roles.clean.sql"
    sanitize_roles_file(raw, clean)
    assert raw.read_text() == ROLES_SQL
    assert "azuresu" not in clean.read_text()
    assert classify(raw).kind is DumpKind.ROLES
    assert classify(clean).kind is DumpKind.ROLES
