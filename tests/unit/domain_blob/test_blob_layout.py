"""Name-based hints for the blobs of a restore-as-files container."""

from __future__ import annotations

import pytest

from pgflex_gui.domain.blob_layout import (
    UNNAMED_DATABASE,
    BlobRole,
    classify_blob,
    classify_layout,
)

UUID = "3f2b8c1e-9a4d-4e0b-8c7a-1d2e3f4a5b6c"


@pytest.mark.parametrize(
    ("name", "db"),
    [
        ("server1_database_sales.sql", "sales"),
        ("database_sales.sql", "sales"),
        ("Database_Sales.SQL", "Sales"),
        ("sales.sql", "sales"),
        ("sales.dump", "sales"),
        ("sales.sql.gz", "sales"),
        (f"{UUID}_sales_database.sql", "sales"),
        (f"{UUID.replace('-', '')}_sales_database.sql", "sales"),
        (f"{UUID}_sales.sql", "sales"),
        ("20250512T010203Z_sales.sql", "sales"),
        ("sales_database.sql", "sales"),
        ("my_app_db_database.sql", "my_app_db"),
        ("prefix_database_user_roles.sql", "user_roles"),  # explicit db beats "roles"
        ("sales/Database.sql", "sales"),
        ("rp-2025/sales/Database.sql", "sales"),
        ("rp-2025/srv_database_sales.sql", "sales"),
        ("Database.sql", UNNAMED_DATABASE),
    ],
)
def test_database_files(name: str, db: str) -> None:
    hint = classify_blob(name)
    assert hint.role is BlobRole.DATABASE
    assert hint.database == db
    assert hint.directory is None


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("Roles.sql", BlobRole.ROLES),
        ("roles.sql", BlobRole.ROLES),
        ("server1_roles.sql", BlobRole.ROLES),
        (f"{UUID}_Roles.sql", BlobRole.ROLES),
        ("globals.sql", BlobRole.ROLES),
        ("Schema.sql", BlobRole.SCHEMA),
        ("server1_schema.sql", BlobRole.SCHEMA),
        ("Tablespace.sql", BlobRole.TABLESPACE),
        ("folder/tablespaces.sql", BlobRole.TABLESPACE),
        ("_SUCCESS", BlobRole.MARKER),
        ("folder/restore.done", BlobRole.MARKER),
        ("manifest.json", BlobRole.MARKER),
        ("folder/notes.txt", BlobRole.MARKER),
        ("random.bin", BlobRole.UNKNOWN),
        ("noextension", BlobRole.UNKNOWN),
    ],
)
def test_other_roles(name: str, role: BlobRole) -> None:
    hint = classify_blob(name)
    assert hint.role is role
    assert hint.database is None


@pytest.mark.parametrize(
    ("folder", "db"),
    [
        ("sales", "sales"),
        ("sales.dir", "sales"),
        ("rp1/srv_database_sales", "sales"),
        (f"{UUID}_sales_database", "sales"),
        ("", UNNAMED_DATABASE),
    ],
)
def test_directory_dump_members(folder: str, db: str) -> None:
    prefix = f"{folder}/" if folder else ""
    for member in ("toc.dat", "3456.dat.gz", "3457.dat", "blob_17.dat", "blobs.toc"):
        hint = classify_blob(prefix + member)
        assert hint.role is BlobRole.DATABASE, member
        assert hint.database == db
        assert hint.directory == folder


def test_layout_of_a_documented_container() -> None:
    layout = classify_layout(
        ["Roles.sql", "Schema.sql", "Tablespace.sql", "sales/Database.sql", "hr/Database.sql"]
    )
    assert layout.databases == {"hr": ("hr/Database.sql",), "sales": ("sales/Database.sql",)}
    assert layout.roles == ("Roles.sql",)
    assert layout.schemas == ("Schema.sql",)
    assert layout.tablespaces == ("Tablespace.sql",)
    assert layout.unknown == ()
    assert layout.database_names == ("hr", "sales")


def test_layout_groups_directory_dumps_toc_first() -> None:
    layout = classify_layout(
        [
            "bk/sales/3001.dat.gz",
            "bk/sales/toc.dat",
            "bk/sales/3000.dat.gz",
            "bk/hr/toc.dat",
            "bk/hr/2000.dat.gz",
            "bk/server_roles.sql",
            "bk/_SUCCESS",
            "bk/",  # folder placeholder
            "bk/odd.bin",
        ]
    )
    assert layout.databases["sales"] == (
        "bk/sales/toc.dat",
        "bk/sales/3000.dat.gz",
        "bk/sales/3001.dat.gz",
    )
    assert [d.folder for d in layout.directory_dumps] == ["bk/hr", "bk/sales"]
    assert all(d.has_toc for d in layout.directory_dumps)
    assert layout.directory_dumps[1].database == "sales"
    assert layout.roles == ("bk/server_roles.sql",)
    assert layout.markers == ("bk/_SUCCESS",)
    assert layout.unknown == ("bk/odd.bin",)


def test_directory_dump_without_toc_is_flagged() -> None:
    layout = classify_layout(["x/sales/1.dat.gz"])
    assert not layout.directory_dumps[0].has_toc


def test_uuid_prefixed_flat_files_and_unnamed() -> None:
    layout = classify_layout(
        [
            f"{UUID}_sales_database.sql",
            f"{UUID}_hr_database.sql",
            f"{UUID}_roles.sql",
            "Database.sql",
        ]
    )
    assert set(layout.databases) == {"sales", "hr", UNNAMED_DATABASE}
    assert layout.database_names == ("hr", "sales")
    assert layout.roles == (f"{UUID}_roles.sql",)
