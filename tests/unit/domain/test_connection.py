"""The restored server's connection values: libpq string, URI, pgAdmin entry; no password."""

from __future__ import annotations

import json

from pgflex_gui.domain.connection import ServerConnection, pgadmin_servers_json
from pgflex_gui.domain.restore_summary import duration_words

AZURE = ServerConnection(
    host="pg-new.postgres.database.azure.com",
    port=5432,
    user="pgadmin",
    sslmode="require",
    server_name="pg-new",
    password_entry="server-admin:/subscriptions/s/…/pg-new",
    password_generated=True,
)


def test_libpq_string_names_the_database_and_quotes_what_needs_it() -> None:
    assert AZURE.libpq("sales") == (
        "host=pg-new.postgres.database.azure.com port=5432 dbname=sales user=pgadmin "
        "sslmode=require"
    )
    odd = ServerConnection("127.0.0.1", 6543, "o'brien", dbname="my db")
    assert odd.libpq() == r"host=127.0.0.1 port=6543 dbname='my db' user='o\'brien'"


def test_uri_escapes_names_and_brackets_ipv6() -> None:
    assert AZURE.uri("a/b") == (
        "postgresql://pgadmin@pg-new.postgres.database.azure.com:5432/a%2Fb?sslmode=require"
    )
    assert ServerConnection("::1", 5432, "u").uri() == "postgresql://u@[::1]:5432/postgres"


def test_json_round_trip_and_malformed_input() -> None:
    assert ServerConnection.from_json(AZURE.to_json()) == AZURE
    assert ServerConnection.from_json(None) is None
    assert ServerConnection.from_json({"host": "h", "port": "x"}) is None


def test_pgadmin_entry_has_the_server_but_never_a_password() -> None:
    data = json.loads(pgadmin_servers_json(AZURE))
    server = data["Servers"]["1"]
    assert server["Host"] == AZURE.host
    assert server["Username"] == "pgadmin"
    assert server["ConnectionParameters"]["sslmode"] == "require"
    assert "password" not in json.dumps(data).lower()


def test_duration_words() -> None:
    assert duration_words(0.4) == "under a second"
    assert duration_words(12.4) == "12 s"
    assert duration_words(185) == "3 min 5 s"
    assert duration_words(7440) == "2 h 4 min"
