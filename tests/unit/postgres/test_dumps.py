"""Telling dump files apart by content; archive headers; pg_restore --list parsing."""

from pathlib import Path

import pytest

from pgflex_gui.postgres.dumps import (
    DumpKind,
    classify,
    classify_bytes,
    min_restore_major,
    parse_archive_header,
    parse_toc_listing,
    plain_sql_extensions,
    preload_libraries_for,
)


def _int(value: int, size: int = 4) -> bytes:
    return bytes([1 if value < 0 else 0]) + abs(value).to_bytes(size, "little")


def _str(text: str | None) -> bytes:
    if text is None:
        return _int(-1)
    raw = text.encode()
    return _int(len(raw)) + raw


def make_header(minor: int, *, fmt: int = 1, dump_version: str = "17.2") -> bytes:
    """What pg_dump's WriteHead writes (1.15+ layout when minor >= 15)."""
    out = b"PGDMP" + bytes([1, minor, 0, 4, 8, fmt])
    out += bytes([1]) if minor >= 15 else _int(-1)  # gzip / default level
    for value in (7, 30, 12, 24, 10, 126, 0):  # 2026-11-24 12:30:07
        out += _int(value)
    return out + _str("shop") + _str("16.4") + _str(dump_version) + b"\x00" * 16


def test_header_of_a_pg_dump_17_archive() -> None:
    header = parse_archive_header(make_header(16))
    assert header.version == (1, 16, 0)
    assert header.version_text == "1.16"
    assert (header.int_size, header.off_size) == (4, 8)
    assert header.format == "custom"
    assert header.compression == "gzip"
    assert header.dbname == "shop"
    assert header.server_version == "16.4"
    assert header.dump_major == 17
    assert header.created is not None
    assert (header.created.year, header.created.month, header.created.day) == (2026, 11, 24)
    assert header.min_restore_major == 17
    assert header.made_by() == "made by pg_dump 17, archive format 1.16"


def test_header_before_1_15_reads_a_compression_level() -> None:
    header = parse_archive_header(make_header(14, dump_version="15.8"))
    assert header.compression == "gzip"
    assert header.dump_version == "15.8"
    assert header.min_restore_major == 12


@pytest.mark.parametrize("data", [b"", b"PGDMP", b"PGDMP\x01\x10", b"hello world"])
def test_broken_headers_raise_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_archive_header(data)


@pytest.mark.parametrize(
    ("version", "major"), [((1, 14), 12), ((1, 15), 16), ((1, 16), 17), ((1, 17), 19)]
)
def test_min_restore_major(version: tuple[int, int], major: int) -> None:
    assert min_restore_major(version) == major


def _tar_head() -> bytes:
    block = bytearray(512)
    block[0:7] = b"toc.dat"
    block[257:263] = b"ustar\x00"
    return bytes(block)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (make_header(16), DumpKind.CUSTOM),
        (_tar_head(), DumpKind.TAR),
        (b"", DumpKind.EMPTY),
        (b"  \n\n", DumpKind.EMPTY),
        (b"--\n-- PostgreSQL database cluster dump\n--\n\nSET client_encoding = 'UTF8';\n",
         DumpKind.EMPTY),
        (b"--\n-- PostgreSQL database dump\n--\nSET x = 1;\nCREATE TABLE t (a int);\n"
         b"COPY public.t (a) FROM stdin;\n1\n\\.\n", DumpKind.PLAIN_SQL),
        (b"CREATE ROLE a;\nALTER ROLE a WITH LOGIN;\nGRANT b TO a;\n", DumpKind.ROLES),
        (b"SET x = 1;\nCREATE TABLESPACE ts OWNER a LOCATION '/x';\n", DumpKind.TABLESPACES),
        (b"--\n\\connect shop\nCREATE TABLE t (a int);\n\\connect other\nCREATE VIEW v AS "
         b"SELECT 1;\n", DumpKind.SCHEMAS),
        (b"\x1f\x8b\x08\x00binary", DumpKind.UNKNOWN),
        (b"just some notes\n", DumpKind.UNKNOWN),
    ],
)  # fmt: skip
def test_classify_bytes(head: bytes, kind: DumpKind) -> None:
    assert classify_bytes(head) is kind


def test_classify_by_content_not_name(tmp_path: Path) -> None:
    archive = tmp_path / "Database.sql"
    archive.write_bytes(make_header(15))
    info = classify(archive)
    assert info.kind is DumpKind.CUSTOM
    assert info.restore_with == "pg_restore"
    assert info.header is not None
    assert info.header.version_text == "1.15"
    folder = tmp_path / "dir_dump"
    folder.mkdir()
    (folder / "toc.dat").write_bytes(make_header(16, fmt=3))
    assert classify(folder).kind is DumpKind.DIRECTORY
    assert classify(folder).header.format == "directory"  # type: ignore[union-attr]


def test_large_plain_file_is_scanned_past_the_head(tmp_path: Path) -> None:
    roles_then_table = b"CREATE ROLE a;\n" * 6000 + b"CREATE TABLE t (a int);\n"
    path = tmp_path / "x.sql"
    path.write_bytes(roles_then_table)
    assert classify_bytes(roles_then_table[:65536]) is DumpKind.ROLES
    assert classify(path).kind is DumpKind.PLAIN_SQL


LISTING = """;
; Archive created at 2026-11-24 15:25:53 UTC
;     dbname: shop
;     TOC Entries: 16
;     Compression: gzip
;     Dump Version: 1.16-0
;     Format: CUSTOM
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 18.6
;
;
; Selected TOC Entries:
;
2; 3079 16385 EXTENSION - pg_trgm 
3404; 0 0 COMMENT - EXTENSION pg_trgm 
217; 1259 16475 TABLE public items postgres
3405; 0 0 COMMENT public TABLE orders postgres
3406; 0 0 SEQUENCE OWNED BY public orders_id_seq postgres
3397; 0 16475 TABLE DATA public items postgres
3396; 0 16467 TABLE DATA public orders app
3407; 0 0 SEQUENCE SET public orders_id_seq postgres
3252; 2606 16474 CONSTRAINT public orders orders_pkey postgres
5; 0 0 ACL - SCHEMA public azure_pg_admin
"""


def test_parse_toc_listing() -> None:
    toc = parse_toc_listing(LISTING)
    assert toc.dbname == "shop"
    assert toc.server_version.startswith("15.18")
    assert toc.dump_version == "18.6"
    assert toc.extensions == ("pg_trgm",)
    assert toc.tables == (("public", "items"), ("public", "orders"))
    by_id = {e.dump_id: e for e in toc.entries}
    assert by_id[2].schema == ""
    assert by_id[2].owner == ""
    assert (by_id[3404].desc, by_id[3404].name) == ("COMMENT", "EXTENSION pg_trgm")
    assert (by_id[3406].desc, by_id[3406].name) == ("SEQUENCE OWNED BY", "orders_id_seq")
    assert (by_id[3396].desc, by_id[3396].owner) == ("TABLE DATA", "app")
    assert (by_id[3252].desc, by_id[3252].name) == ("CONSTRAINT", "orders orders_pkey")
    assert (by_id[5].desc, by_id[5].name, by_id[5].owner) == (
        "ACL",
        "SCHEMA public",
        "azure_pg_admin",
    )


def test_preload_libraries() -> None:
    assert preload_libraries_for(["pg_trgm", "pg_cron", "pg_partman", "pg_stat_statements"]) == (
        "pg_cron",
        "pg_partman_bgw",
        "pg_stat_statements",
    )
    assert preload_libraries_for(["plpgsql", "postgis"]) == ()


def test_plain_sql_extensions_are_read_from_the_pre_data(tmp_path: Path) -> None:
    dump = tmp_path / "sales.sql"
    dump.write_text(
        "SET statement_timeout = 0;\n"
        "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;\n"
        "COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';\n"
        'create extension "uuid-ossp";\n'
        "CREATE EXTENSION HSTORE;\n"
        "COPY public.orders (id) FROM stdin;\n"
        "CREATE EXTENSION postgis;\n"  # inside the data: never read
        "\\.\n"
    )
    assert plain_sql_extensions(dump) == ("hstore", "pgcrypto", "uuid-ossp")
